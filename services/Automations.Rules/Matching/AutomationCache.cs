using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Automations.Contracts;
using Automations.Persistence.Control;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Rules.Matching;

/// <summary>
/// The enabled automations that apply to each (entity, project), in memory: the project's own and the entity's team
/// automations whose project regex finds the project. Team automations are loaded and compiled once per entity and
/// shared by reference by every project entry of that entity, so a project created later costs one small query for its
/// own automations, not another copy of the team's. Dropped by AutomationsChanged (delivered to every replica; a team
/// change drops the entity's team entry and every project entry of the entity) and, as a safety net, after
/// Rules:CacheTtl. A load that raced with an invalidation is not kept.
/// <para>
/// Bounded: at most Rules:CacheMaxEntries project entries and as many entity entries. When full, expired entries are
/// swept; if none is, a load is used without being kept (the next event of that project reads the database again).
/// </para>
/// </summary>
public sealed class AutomationCache(IOptions<RulesOptions> options, TimeProvider time, ILogger<AutomationCache> logger)
{
    private sealed record Entry(IReadOnlyList<CompiledAutomation> Automations, DateTimeOffset ExpiresAt);

    private readonly ConcurrentDictionary<(string Entity, string Project), Entry> _entries = new();
    private readonly ConcurrentDictionary<string, Entry> _teams = new(StringComparer.Ordinal);
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
        var team = await TeamAsync(connection, transaction, entity, generation, now, ct);
        var rows = await AutomationQueries.EnabledForProjectAsync(connection, transaction, entity, project, ct);
        IReadOnlyList<CompiledAutomation> all = [.. Compile(rows), .. team.Automations.Where(t => Applies(t, project))];
        lock (_lock)
        {
            // Never outlives the team entry it was made from: the safety net drops both within one TTL.
            var expires = now + options.Value.CacheTtl;
            if (generation == _generation && HasRoom(_entries, key, now))
                _entries[key] = new Entry(all, expires < team.ExpiresAt ? expires : team.ExpiresAt);
        }
        return all;
    }

    /// <summary>The entity's enabled team automations, compiled once for all its projects.</summary>
    private async ValueTask<Entry> TeamAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string entity, long generation,
        DateTimeOffset now, CancellationToken ct)
    {
        if (_teams.TryGetValue(entity, out var entry) && entry.ExpiresAt > now) return entry;
        var loaded = new Entry(Compile(await AutomationQueries.EnabledForTeamAsync(connection, transaction, entity, ct)), now + options.Value.CacheTtl);
        lock (_lock)
        {
            if (generation == _generation && HasRoom(_teams, entity, now)) _teams[entity] = loaded;
        }
        return loaded;
    }

    private CompiledAutomation[] Compile(IEnumerable<AutomationRow> rows)
    {
        var compiled = rows.Select(r => new CompiledAutomation(r, options.Value.RegexTimeout)).ToArray();
        foreach (var bad in compiled.Where(c => c.Invalid is not null))
            logger.LogWarning("Automation {AutomationId} ({Entity}/{Project}) never fires: {Problem}", bad.Row.Id, bad.Row.Entity,
                bad.Row.IsTeam ? "(team)" : bad.Row.Project, bad.Invalid);
        return compiled;
    }

    private bool Applies(CompiledAutomation team, string project)
    {
        try
        {
            return team.AppliesTo(project);
        }
        catch (RegexMatchTimeoutException)
        {
            logger.LogWarning("Team automation {AutomationId}: its project regex timed out on project {Project}; not applied to it", team.Row.Id, project);
            return false;
        }
    }

    /// <summary>Under the lock: whether <paramref name="key"/> may be stored, sweeping expired entries when the map is full.</summary>
    private bool HasRoom<TKey>(ConcurrentDictionary<TKey, Entry> map, TKey key, DateTimeOffset now) where TKey : notnull
    {
        var max = options.Value.CacheMaxEntries;
        if (map.Count < max || map.ContainsKey(key)) return true;
        foreach (var (k, e) in map)
            if (e.ExpiresAt <= now) map.TryRemove(k, out _);
        return map.Count < max;
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

    /// <summary>A team automation changed: it may apply to any project of the entity, cached or not.</summary>
    public void InvalidateTeam(string entity)
    {
        lock (_lock)
        {
            _generation++;
            _teams.TryRemove(entity, out _);
            foreach (var key in _entries.Keys)
                if (string.Equals(key.Entity, entity, StringComparison.Ordinal)) _entries.TryRemove(key, out _);
        }
    }

    public bool IsCached(string entity, string project) => _entries.ContainsKey((entity, project));

    public bool IsTeamCached(string entity) => _teams.ContainsKey(entity);

    /// <summary>How many project entries are kept (for tests of the bound).</summary>
    public int Count => _entries.Count;
}
