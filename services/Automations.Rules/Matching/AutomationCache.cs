using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Automations.Contracts;
using Automations.Persistence.Control;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Rules.Matching;

/// <summary>
/// The enabled automations of each (entity, project), in memory. Dropped by AutomationsChanged (delivered to every
/// replica) and, as a safety net, after Rules:CacheTtl. A load that raced with an invalidation is not kept.
/// </summary>
public sealed class AutomationCache(IOptions<RulesOptions> options, TimeProvider time, ILogger<AutomationCache> logger)
{
    private sealed record Entry(IReadOnlyList<CompiledAutomation> Automations, DateTimeOffset ExpiresAt);

    private readonly ConcurrentDictionary<(string Entity, string Project), Entry> _entries = new();
    private readonly Lock _lock = new();
    private long _generation;

    /// <summary>The project's automations when cached and fresh; null when they must be loaded (<see cref="GetAsync"/>).</summary>
    public IReadOnlyList<CompiledAutomation>? TryGet(string entity, string project) =>
        _entries.TryGetValue((entity, project), out var entry) && entry.ExpiresAt > time.GetUtcNow() ? entry.Automations : null;

    public async ValueTask<IReadOnlyList<CompiledAutomation>> GetAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string entity, string project, CancellationToken ct)
    {
        var key = (entity, project);
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(key, out var entry) && entry.ExpiresAt > now) return entry.Automations;

        long generation;
        lock (_lock) generation = _generation;
        var rows = await AutomationQueries.EnabledForProjectAsync(connection, transaction, entity, project, ct);
        var compiled = rows.Select(r => new CompiledAutomation(r, options.Value.RegexTimeout)).ToArray();
        foreach (var bad in compiled.Where(c => c.Invalid is not null))
            logger.LogWarning("Automation {AutomationId} ({Entity}/{Project}) never fires: {Problem}", bad.Row.Id, entity, project, bad.Invalid);
        lock (_lock)
        {
            if (generation == _generation)
                _entries[key] = new Entry(compiled, now + options.Value.CacheTtl);
        }
        return compiled;
    }

    /// <summary>The automations <paramref name="e"/> triggers, each once.</summary>
    public List<CompiledAutomation> Match(IReadOnlyList<CompiledAutomation> automations, ArtifactEventReceived e)
    {
        var matched = new List<CompiledAutomation>();
        foreach (var a in automations)
        {
            try
            {
                if (a.Matches(e)) matched.Add(a);
            }
            catch (RegexMatchTimeoutException)
            {
                logger.LogWarning("Automation {AutomationId}: its filter regex timed out on event {EventId}; not fired", a.Row.Id, e.EventId);
            }
        }
        return matched;
    }

    public void Invalidate(string entity, string project)
    {
        lock (_lock)
        {
            _generation++;
            _entries.TryRemove((entity, project), out _);
        }
    }

    public bool IsCached(string entity, string project) => _entries.ContainsKey((entity, project));
}
