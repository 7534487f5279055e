using System.Collections.Concurrent;
using System.Reflection;
using Npgsql;
using NpgsqlTypes;

namespace Automations.Persistence.GroupCommit;

/// <summary>
/// The named parameters of one statement for <see cref="GroupCommitter"/>: Npgsql parameters, built on the caller's
/// thread. Dapper cannot build an <see cref="NpgsqlBatchCommand"/>, so this is the small part of it the hot paths need:
/// values by name, or every public property of an object (an anonymous type), typed from the declared type so that a
/// null still has a PostgreSQL type.
/// </summary>
internal sealed class StatementParameters
{
    private static readonly ConcurrentDictionary<Type, (string Name, Func<object, object?> Get, Type Type)[]> Properties = new();
    internal readonly List<NpgsqlParameter> List = new(24);

    public StatementParameters() { }

    /// <summary>Every public instance property of <paramref name="values"/> (usually an anonymous object), by its name.</summary>
    public StatementParameters(object values) => AddObject(values);

    public StatementParameters Add<T>(string name, T value) => Add(name, value, typeof(T));

    public StatementParameters Add(string name, object? value, Type declaredType)
    {
        var parameter = new NpgsqlParameter { ParameterName = name, Value = value ?? DBNull.Value };
        if (DbTypeOf(declaredType == typeof(object) && value is not null ? value.GetType() : declaredType) is { } type) parameter.NpgsqlDbType = type;
        List.Add(parameter);
        return this;
    }

    public StatementParameters AddObject(object values)
    {
        foreach (var (name, get, type) in PropertiesOf(values.GetType())) Add(name, get(values), type);
        return this;
    }

    /// <summary>
    /// These parameters by position for a statement that says <c>$1</c>, <c>$2</c>, ...: the n-th is the one at
    /// <paramref name="order"/>[n - 1], unnamed (this instance is used up: its parameters move).
    /// </summary>
    public StatementParameters Positional(int[] order)
    {
        var positional = new StatementParameters();
        foreach (var i in order)
        {
            var parameter = List[i];
            parameter.ParameterName = "";
            positional.List.Add(parameter);
        }
        return positional;
    }

    /// <summary>The public instance properties of <paramref name="type"/> (usually an anonymous type) as parameters: name, getter, declared type.</summary>
    public static (string Name, Func<object, object?> Get, Type Type)[] PropertiesOf(Type type) =>
        Properties.GetOrAdd(type, static t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0)
            .Select(p => (p.Name, (Func<object, object?>)p.GetValue, p.PropertyType))
            .ToArray());

    /// <summary>
    /// The PostgreSQL type for a declared CLR type, as Dapper would send it; null (other types) leaves it to Npgsql.
    /// Strings go as text: a statement that stores one as json, jsonb or uuid casts it (<c>@x::jsonb</c>).
    /// </summary>
    private static NpgsqlDbType? DbTypeOf(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(Guid)) return NpgsqlDbType.Uuid;
        if (type == typeof(int)) return NpgsqlDbType.Integer;
        if (type == typeof(long)) return NpgsqlDbType.Bigint;
        if (type == typeof(short)) return NpgsqlDbType.Smallint;
        if (type == typeof(bool)) return NpgsqlDbType.Boolean;
        if (type == typeof(double)) return NpgsqlDbType.Double;
        if (type == typeof(decimal)) return NpgsqlDbType.Numeric;
        if (type == typeof(DateTimeOffset)) return NpgsqlDbType.TimestampTz;
        if (type == typeof(TimeSpan)) return NpgsqlDbType.Interval;
        if (type == typeof(string)) return NpgsqlDbType.Text;
        if (type == typeof(byte[])) return NpgsqlDbType.Bytea;
        if (type == typeof(Guid[])) return NpgsqlDbType.Array | NpgsqlDbType.Uuid;
        if (type == typeof(string[])) return NpgsqlDbType.Array | NpgsqlDbType.Text;
        return null;
    }
}
