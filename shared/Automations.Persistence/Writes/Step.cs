namespace Automations.Persistence.Writes;

/// <summary>
/// One CTE of a <see cref="WriteUnit"/>. Its <see cref="ToString"/> is its name, so a later step selects from it
/// (<c>$"... where exists (select from {run})"</c>).
/// </summary>
public sealed class Step
{
    internal Step(WriteUnit unit, string name, string sql, bool hasRows, bool guarded)
    {
        Unit = unit;
        Name = name;
        Sql = sql;
        HasRows = hasRows;
        Guarded = guarded;
    }

    internal WriteUnit Unit { get; }
    public string Name { get; }
    internal string Sql { get; }
    /// <summary>Whether later steps and the result can read its rows: a select, or a write with <c>returning</c>.</summary>
    internal bool HasRows { get; }
    /// <summary>Whether it runs only for a new message: it is the inbox, or reads it or a step that does.</summary>
    internal bool Guarded { get; }

    public override string ToString() => Name;
}

/// <summary>What a committed <see cref="WriteUnit"/> did.</summary>
public sealed class WriteResult
{
    private readonly Dictionary<Step, Array?> _rows;

    internal WriteResult(bool duplicate, Dictionary<Step, Array?> rows)
    {
        Duplicate = duplicate;
        _rows = rows;
    }

    /// <summary>The unit's inbox already had this message: nothing guarded by it ran, nothing was published.</summary>
    public bool Duplicate { get; }

    /// <summary>The rows <paramref name="step"/> returned.</summary>
    public int Count(Step step) => Rows(step)?.Length ?? 0;

    /// <summary>The first column of <paramref name="step"/>'s first row; default when it returned none.</summary>
    public T? Value<T>(Step step) => Rows(step) is { Length: > 0 } rows && rows.GetValue(0) is { } value ? (T)value : default;

    /// <summary>The first column of each row <paramref name="step"/> returned.</summary>
    public IReadOnlyList<T> Values<T>(Step step) => Rows(step) switch
    {
        null => [],
        T[] typed => typed,
        var rows => rows.Cast<T>().ToArray(),
    };

    private Array? Rows(Step step) => _rows.TryGetValue(step, out var rows)
        ? rows
        : throw new InvalidOperationException($"{step} returns no rows (a write needs `returning`), or belongs to another unit");
}
