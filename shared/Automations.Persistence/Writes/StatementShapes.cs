using System.Collections.Concurrent;
using System.Collections.Frozen;
using Automations.Persistence.GroupCommit;

namespace Automations.Persistence.Writes;

/// <summary>
/// What a <see cref="WriteUnit"/> works out from its SQL text alone, kept per text: a step's renamed parameters, its words
/// and whether it returns rows; a whole unit's statement per shape. The hot paths write the same few shapes thousands of
/// times a second; worked out each time, the scan, the renaming and the composed text (a few KB per event, in a
/// <see cref="System.Text.StringBuilder"/>) were the largest share of what the services allocated per event.
/// </summary>
/// <remarks>
/// Bounded: a caller that puts values into its SQL text (it should use parameters) would make a new text per call; past
/// the bound those are worked out each time, not kept, so memory stays fixed and only the cost returns.
/// </remarks>
internal static class StatementShapes
{
    public const int MaxSteps = 1024;
    public const int MaxUnits = 1024;
    private static readonly HashSet<string> RowKeywords = ["select", "values", "table", "with"];
    private static readonly ConcurrentDictionary<(string Sql, string Prefix, Type? Args), PreparedStep> Steps = new();
    private static int _nextId;

    /// <summary>
    /// A step's SQL with each <c>@name</c> renamed <c>@{prefix}name</c>, and for each renamed parameter the index of the
    /// property of <paramref name="args"/> it reads.
    /// </summary>
    /// <exception cref="ArgumentException">The SQL uses a parameter <paramref name="args"/> has no property for.</exception>
    public static PreparedStep Step(string sql, string prefix, Type? args)
    {
        if (Steps.TryGetValue((sql, prefix, args), out var known)) return known;
        var prepared = Prepare(sql, prefix, args);
        return Steps.Count < MaxSteps ? Steps.GetOrAdd((sql, prefix, args), prepared) : prepared with { Id = -1 };
    }

    private static PreparedStep Prepare(string sql, string prefix, Type? args)
    {
        var properties = args is null ? [] : StatementParameters.PropertiesOf(args);
        var used = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var bindings = new List<(string, int)>();
        var renamed = SqlText.RenameParameters(sql, name =>
        {
            if (used.TryGetValue(name, out var known)) return known;
            var property = Array.FindIndex(properties, p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
            if (property < 0) throw new ArgumentException($"The statement uses @{name}, which its arguments do not have: {sql}", nameof(args));
            bindings.Add((prefix + name, property));
            return used[name] = prefix + name;
        });
        var words = SqlText.Words(renamed).ToList();
        var hasRows = words.Count > 0 && RowKeywords.Contains(words[0]) || words.Contains("returning");
        return new PreparedStep(Interlocked.Increment(ref _nextId), renamed, hasRows, words.ToFrozenSet(), [.. bindings]);
    }

    /// <summary>A step worked out once: <see cref="Id"/> names it in a unit's shape (-1: not kept, so no shape is).</summary>
    public sealed record PreparedStep(int Id, string Sql, bool HasRows, FrozenSet<string> Words, (string Name, int Property)[] Parameters);

    /// <summary>
    /// A unit's statement. With <see cref="Order"/>, its parameters go by position (<c>$n</c>): <c>Order[n - 1]</c> is
    /// the index of the n-th among the parameters as the unit added them (the same for every unit of a shape); without,
    /// by name.
    /// </summary>
    public sealed record Statement(string Sql, int[]? Order)
    {
        /// <summary>
        /// The positional form of <paramref name="named"/>, whose parameters were added as <paramref name="added"/>; the
        /// named form when they do not match one to one (then Npgsql matches the names).
        /// </summary>
        public static Statement Of(string named, IReadOnlyList<Npgsql.NpgsqlParameter> added)
        {
            var (sql, names) = SqlText.ToPositional(named);
            if (names.Length != added.Count) return new Statement(named, null);
            var index = new Dictionary<string, int>(added.Count, StringComparer.OrdinalIgnoreCase);
            for (var i = 0; i < added.Count; i++)
                if (!index.TryAdd(added[i].ParameterName, i)) return new Statement(named, null);
            var order = new int[names.Length];
            for (var n = 0; n < names.Length; n++)
                if (!index.TryGetValue(names[n], out order[n])) return new Statement(named, null);
            return new Statement(sql, order);
        }
    }

    /// <summary>The composed statements of one schema's units, by shape (see <see cref="WriteUnit"/>).</summary>
    public sealed class Units
    {
        private readonly ConcurrentDictionary<string, Statement> _statements = new();

        /// <summary>The statement of the shape <paramref name="key"/> (null: not kept), made by <paramref name="compose"/> the first time.</summary>
        public Statement Get<TState>(string? key, TState state, Func<TState, Statement> compose)
        {
            if (key is null) return compose(state);
            if (_statements.TryGetValue(key, out var statement)) return statement;
            statement = compose(state);
            return _statements.Count < MaxUnits ? _statements.GetOrAdd(key, statement) : statement;
        }

        internal int Count => _statements.Count;

        internal IEnumerable<Statement> Kept => _statements.Values;
    }
}
