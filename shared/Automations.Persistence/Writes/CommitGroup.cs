using System.Diagnostics;

namespace Automations.Persistence.Writes;

/// <summary>
/// The write units of a known number of handlers (the items of one broker message, handled at once) committed as one:
/// when every member has committed its unit or left without one, the units go to the group commit together (one batch,
/// one commit) and their messages to the direct path at once (one publish per type that travels together). Without it
/// the items' units reach idle writers one by one: a commit and, below load, a message each.
/// </summary>
/// <remarks>
/// Each member must end: <see cref="Member.CommitAsync"/> or <see cref="Member.Dispose"/> (a handler that fails or has
/// nothing to write), else the others wait for it. A member waits for the slowest of the group, so a group is for
/// handlers whose work before their commit is alike and short (no remote call).
/// </remarks>
public sealed class CommitGroup
{
    private readonly Writes _writes;
    private readonly CancellationToken _ct;
    private readonly List<(WriteUnit Unit, ActivityContext Caller, TaskCompletionSource<WriteResult> Result)> _units = [];
    private int _members;
    private int _open;

    internal CommitGroup(Writes writes, int members, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(members);
        _writes = writes;
        _members = members;
        _open = members;
        _ct = ct;
    }

    /// <summary>One handler's place in the group (as many as the group's members, each once).</summary>
    public Member Join()
    {
        if (Interlocked.Decrement(ref _members) < 0) throw new InvalidOperationException("More members joined than the group was made for");
        return new Member(this);
    }

    private void Arrive()
    {
        if (Interlocked.Decrement(ref _open) == 0) _ = CommitAllAsync();
    }

    private async Task CommitAllAsync()
    {
        (WriteUnit Unit, ActivityContext Caller, TaskCompletionSource<WriteResult> Result)[] units;
        lock (_units) units = [.. _units];
        if (units.Length == 0) return;
        try
        {
            var outcomes = await _writes.CommitTogetherAsync([.. units.Select(u => (u.Unit, u.Caller))], _ct);
            for (var i = 0; i < units.Length; i++)
            {
                if (outcomes[i].Error is { } error) units[i].Result.TrySetException(error);
                else units[i].Result.TrySetResult(outcomes[i].Result!);
            }
        }
        catch (Exception ex)
        {
            foreach (var u in units) u.Result.TrySetException(ex);
        }
    }

    public sealed class Member : IDisposable
    {
        private readonly CommitGroup _group;
        private int _done;

        internal Member(CommitGroup group) => _group = group;

        /// <summary>Commits <paramref name="unit"/> with the group's other units, once all members have come.</summary>
        public Task<WriteResult> CommitAsync(WriteUnit unit)
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) throw new InvalidOperationException("This member has committed or left already");
            var result = new TaskCompletionSource<WriteResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            // Its caller's span is linked from the commit's, as a unit committed alone is.
            lock (_group._units) _group._units.Add((unit, Activity.Current?.Context ?? default, result));
            _group.Arrive();
            return result.Task;
        }

        /// <summary>Leaves the group without a unit, unless it committed one.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) _group.Arrive();
        }
    }
}
