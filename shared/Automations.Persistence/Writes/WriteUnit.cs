using System.Text;
using Automations.Persistence.GroupCommit;
using Automations.Persistence.Outbox;

namespace Automations.Persistence.Writes;

/// <summary>
/// A one-statement write: an optional inbox mark, statements and messages, composed by the unit into one statement
/// of CTEs and committed with whatever else is queued (group commit: one round trip, one commit), the messages
/// published right after the commit.
/// </summary>
/// <example><code>
/// var w = writes.Begin();
/// var inbox = w.Inbox(consumer, messageId);
/// var run = w.Execute($"insert into rules.runs (...) select @id, ... where exists (select from {inbox}) on conflict do nothing returning 1", new { id });
/// w.Publish(command, when: run);
/// var result = await w.CommitAsync(ct);   // result.Duplicate, result.Count(run)
/// </code></example>
/// <remarks>
/// Each step's parameters are its own (<c>@id</c> in two steps are two parameters): the unit renames them. With an
/// inbox, every statement must read the inbox or a step that does, so that nothing runs for a message seen before.
/// </remarks>
public sealed class WriteUnit
{
    private readonly Writes _writes;
    private readonly List<object> _ctes = [];
    private readonly List<Step> _steps = [];
    private readonly List<Message> _messages = [];
    private readonly StatementParameters _parameters = new();
    private readonly List<int> _shape = [];
    private bool _shapeKept = true;
    private Step? _inbox;
    private bool _committed;
    private List<Step>? _read;
    private TimeSpan? _grace;

    internal WriteUnit(Writes writes) => _writes = writes;

    /// <summary>
    /// Marks <paramref name="messageId"/> handled by <paramref name="consumer"/>: a row only when it is new. Comes first;
    /// an event that makes no other change still leaves this mark.
    /// </summary>
    public Step Inbox(string consumer, Guid messageId)
    {
        if (_inbox is not null || _ctes.Count > 0) throw new InvalidOperationException("A unit has one inbox step, and it comes first");
        _parameters.Add("inbox_consumer", consumer).Add("inbox_message_id", messageId);
        _inbox = new Step(this, "inbox", _writes.InboxSql, hasRows: true, guarded: true);
        Add(_inbox);
        _shape.Add(0);
        return _inbox;
    }

    /// <summary>
    /// One statement of the unit (a select, or a write: with <c>returning</c> when a later step or the result reads it),
    /// with its parameters as the public properties of <paramref name="args"/> (an anonymous object).
    /// </summary>
    public Step Execute(string sql, object? args = null)
    {
        var number = _steps.Count - (_inbox is null ? 0 : 1) + 1;
        var name = Names.Step(number);
        var prepared = StatementShapes.Step(sql, Names.StepPrefix(number), args?.GetType());
        if (prepared.Parameters.Length > 0)
        {
            var properties = StatementParameters.PropertiesOf(args!.GetType());
            foreach (var (parameter, property) in prepared.Parameters)
            {
                var (_, get, type) = properties[property];
                _parameters.Add(parameter, get(args), type);
            }
        }
        var guarded = _steps.Any(s => s.Guarded && prepared.Words.Contains(s.Name));
        var step = new Step(this, name, prepared.Sql, prepared.HasRows, guarded);
        Add(step);
        if (prepared.Id < 0) _shapeKept = false;
        _shape.Add(prepared.Id);
        return step;
    }

    /// <summary>
    /// Publishes <paramref name="message"/> after the commit, through the outbox: only when <paramref name="when"/> returned
    /// a row (with an inbox and no <paramref name="when"/>: only for a new message).
    /// </summary>
    /// <returns>The message id (<paramref name="messageId"/> or a new one).</returns>
    public Guid Publish<T>(T message, Step? when = null, Guid? messageId = null) where T : class
    {
        if (when is not null && (when.Unit != this || !when.HasRows))
            throw new ArgumentException($"{when} is not a step of this unit that returns rows", nameof(when));
        var source = when ?? _inbox;
        var m = new Message(OutboxWriter.Row.For(message.GetType(), message, messageId), source, Names.Outbox(_messages.Count));
        _messages.Add(m);
        _ctes.Add(m);
        // In the shape: which step it waits for (its position), or none.
        _shape.Add(source is null ? -1 : -2 - _steps.IndexOf(source));
        return m.Row.MessageId;
    }

    /// <summary>Commits the unit with the next group commit, then publishes its messages.</summary>
    /// <exception cref="InvalidOperationException">A statement of a unit with an inbox reads neither the inbox nor a step that does.</exception>
    public async Task<WriteResult> CommitAsync(CancellationToken ct = default)
    {
        var (sql, parameters) = Prepare();
        var rows = await _writes.Committer.QueryAsync(sql, parameters, ct);
        var published = new List<OutboxWriter.Row>(_messages.Count);
        var result = Complete(rows, published);
        _writes.AfterCommit?.Invoke();
        _writes.PublishCommitted(published);
        return result;
    }

    /// <summary>The unit's statement and its parameters, for the group commit (once per unit).</summary>
    internal (string Sql, StatementParameters Parameters) Prepare()
    {
        if (_committed) throw new InvalidOperationException("This unit was committed already");
        CheckGuard();
        _committed = true;

        var grace = _grace = _writes.Grace;
        for (var i = 0; i < _messages.Count; i++) _messages[i].Row.AddTo(_parameters, Names.OutboxPrefix(i));
        _read = _steps.Where(s => s.HasRows).ToList();
        var statement = _writes.Statements.Get(_shapeKept ? ShapeKey(grace) : null, (Unit: this, Grace: grace, Read: _read),
            static s => StatementShapes.Statement.Of(s.Unit.Compose(s.Grace, s.Read), s.Unit._parameters.List));
        return (statement.Sql, statement.Order is { } order ? _parameters.Positional(order) : _parameters);
    }

    /// <summary>The committed statement's result; adds to <paramref name="published"/> the rows the direct path publishes.</summary>
    internal WriteResult Complete(IReadOnlyList<object?[]> rows, List<OutboxWriter.Row> published)
    {
        var read = _read ?? throw new InvalidOperationException("The unit was not prepared");
        var values = rows[0];
        var result = new Dictionary<Step, Array?>(read.Count);
        for (var i = 0; i < read.Count; i++)
            result[read[i]] = (Array?)values[i];
        if (_grace is not null)
            foreach (var m in _messages)
                if (m.When is null || result[m.When]?.Length > 0) published.Add(m.Row);
        return new WriteResult(_inbox is not null && result[_inbox] is null, result);
    }

    /// <summary>The unit's one statement: its steps and outbox rows as CTEs, then a select of what the result reads.</summary>
    private string Compose(TimeSpan? grace, List<Step> read)
    {
        var availableAt = OutboxWriter.AvailableAt(grace);
        var sql = new StringBuilder("with ");
        for (var i = 0; i < _ctes.Count; i++)
        {
            if (i > 0) sql.Append(",\n");
            if (_ctes[i] is Step step) sql.Append(step.Name).Append(" as (").Append(step.Sql).Append(')');
            else
            {
                var m = (Message)_ctes[i];
                sql.Append(m.Name).Append(" as (").Append(OutboxWriter.InsertOne(_writes.Schema, Names.OutboxPrefix(_messages.IndexOf(m)), availableAt, m.When?.Name)).Append(')');
            }
        }
        // Each step's rows as an array of their first column: a count for most, the values for those that return some.
        var columns = read.Select(s => $"(select array_agg(v) from {s} as t(v))").ToList();
        if (grace is null && _messages.Count > 0)
        {
            // The relay's rows wake it on commit, when any was written.
            columns.Add(_messages.Any(m => m.When is null)
                ? OutboxWriter.Notify(_writes.Schema)
                : $"(select {OutboxWriter.Notify(_writes.Schema)} from ({string.Join(" union all ", _messages.Select(m => m.When!.Name).Distinct().Select(s => $"select 1 from {s}"))}) as written limit 1)");
        }
        if (columns.Count == 0) columns.Add("null");
        return sql.Append("\nselect ").AppendJoin(", ", columns).ToString();
    }

    /// <summary>
    /// What the statement's text depends on: the steps (by their kept SQL), the outbox rows (by the step each waits for) in
    /// order, and the grace. Two units of one shape differ only in their parameters' values.
    /// </summary>
    private string ShapeKey(TimeSpan? grace)
    {
        var key = new StringBuilder(8 * _shape.Count + 16);
        foreach (var part in _shape) key.Append(part).Append(',');
        return key.Append(grace is { } g ? (long)Math.Ceiling(g.TotalMilliseconds) : -1).ToString();
    }

    /// <summary>With an inbox, every statement reads it or a step that does: nothing runs for a message seen before.</summary>
    internal void CheckGuard()
    {
        if (_inbox is not null && _steps.FirstOrDefault(s => !s.Guarded) is { } unguarded)
            throw new InvalidOperationException(
                $"{unguarded} does not read the inbox (or a step that does): it would run again for a message seen before. Statement: {unguarded.Sql}");
    }

    private void Add(Step step)
    {
        _steps.Add(step);
        _ctes.Add(step);
    }

    private sealed record Message(OutboxWriter.Row Row, Step? When, string Name);

    /// <summary>The names and parameter prefixes of a unit's steps and outbox rows, made once (a unit rarely has more than a few).</summary>
    private static class Names
    {
        private static readonly string[] Steps = [.. Enumerable.Range(0, 32).Select(i => $"step{i}")];
        private static readonly string[] StepPrefixes = [.. Steps.Select(s => s + "_")];
        private static readonly string[] Outboxes = [.. Enumerable.Range(0, 32).Select(i => $"outbox{i}")];
        private static readonly string[] OutboxPrefixes = [.. Outboxes.Select(s => s + "_")];

        public static string Step(int number) => number < Steps.Length ? Steps[number] : $"step{number}";
        public static string StepPrefix(int number) => number < StepPrefixes.Length ? StepPrefixes[number] : $"step{number}_";
        public static string Outbox(int index) => index < Outboxes.Length ? Outboxes[index] : $"outbox{index}";
        public static string OutboxPrefix(int index) => index < OutboxPrefixes.Length ? OutboxPrefixes[index] : $"outbox{index}_";
    }
}
