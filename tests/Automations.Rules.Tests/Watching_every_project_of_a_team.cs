using Automations.Contracts;
using Automations.Persistence.Control;
using Automations.Rules.Matching;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

/// <summary>
/// Team automations in Rules: one row (scope team, no project) watches every project of its entity that its project
/// regex finds, those first seen after it was loaded too; a team change drops every cached project of the entity on
/// every replica. Each test has an entity of its own, so no other test's cache entries or automations are in the way.
/// </summary>
public class Watching_every_project_of_a_team(RulesFixture fx) : IClassFixture<RulesFixture>
{
    private async Task<(Guid Id, string Name)> NewTeamAsync()
    {
        var name = "t" + Guid.NewGuid().ToString("N")[..10];
        var team = await Bootstrap.CreateEntityWithAdminAsync(fx.DataSource, name, "admin-" + name);
        return (team.EntityId, name);
    }

    private async Task<Guid> CreateTeamAutomationAsync(Guid entityId, string name, string? projectRegex, string eventType = EventTypes.CreateArtifact,
        string? collection = "eval-set", string? runFilter = null)
    {
        var id = Guid.CreateVersion7();
        await using var c = await fx.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into control.automations (id, entity_id, project, scope, project_regex, name, event_type, collection, action_type, run_filter)
            values (@id, @entityId, null, 'team', @projectRegex, @name, @eventType, @collection, 'no_op', @runFilter::jsonb)
            """, new { id, entityId, projectRegex, name, eventType, collection, runFilter });
        return id;
    }

    private static string NewProject(string prefix) => prefix + Guid.NewGuid().ToString("N")[..10];

    private async Task<List<string>> FiredAsync(Guid eventId) => (await fx.RunsOfEventAsync(eventId)).Select(r => r.AutomationName).ToList();

    [Fact]
    public async Task Should_fire_for_a_project_first_seen_after_the_team_was_loaded_and_not_for_one_its_regex_excludes()
    {
        var (entityId, entity) = await NewTeamAsync();
        await CreateTeamAutomationAsync(entityId, "team-prod", "^prod-");
        await CreateTeamAutomationAsync(entityId, "team-search", "prod");
        await CreateTeamAutomationAsync(entityId, "team-all", null);

        var first = Event(NewProject("prod-"), entity: entity);
        await fx.HandleAsync(first);
        Assert.Equal(["team-all", "team-prod", "team-search"], await FiredAsync(first.EventId));

        // The team's automations are cached now; a project no event named before gets them too.
        var later = Event(NewProject("prod-"), entity: entity);
        await fx.HandleAsync(later);
        Assert.Equal(["team-all", "team-prod", "team-search"], await FiredAsync(later.EventId));

        // The project regex is a search, as the alias and tag regexes: ^prod- excludes dev-prod-..., prod finds it.
        var excluded = Event(NewProject("dev-prod-"), entity: entity);
        await fx.HandleAsync(excluded);
        Assert.Equal(["team-all", "team-search"], await FiredAsync(excluded.EventId));
        var other = Event(NewProject("staging-"), entity: entity);
        await fx.HandleAsync(other);
        Assert.Equal(["team-all"], await FiredAsync(other.EventId));

        // Another team's event in a project of the same name: none of these.
        var globex = Event(first.Project, entity: "globex");
        await fx.HandleAsync(globex);
        Assert.Empty(await FiredAsync(globex.EventId));
    }

    [Fact]
    public async Task Should_stop_a_disabled_or_deleted_team_automation_in_every_cached_project_on_every_replica()
    {
        await using var second = await fx.StartRulesAsync();
        var (entityId, entity) = await NewTeamAsync();
        await CreateTeamAutomationAsync(entityId, "keep", null);
        var disabled = await CreateTeamAutomationAsync(entityId, "disable", null);
        var deleted = await CreateTeamAutomationAsync(entityId, "delete", null);
        var projects = new[] { NewProject("a-"), NewProject("b-") };
        foreach (var host in new[] { fx.Rules, second })
        {
            var cache = host.Services.GetRequiredService<AutomationCache>();
            await using var c = await fx.DataSource.OpenConnectionAsync();
            foreach (var project in projects)
                Assert.Equal(3, (await cache.GetAsync(c, null, entity, project, CancellationToken.None)).Count);
        }

        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("update control.automations set enabled = false where id = @disabled; delete from control.automations where id = @deleted",
                new { disabled, deleted });
        await fx.PublishAsync(new AutomationsChanged(entity, "", disabled, DateTimeOffset.UtcNow, Team: true));
        foreach (var host in new[] { fx.Rules, second })
        {
            var cache = host.Services.GetRequiredService<AutomationCache>();
            await Eventually.TrueAsync(() => Task.FromResult(!cache.IsTeamCached(entity) && projects.All(p => !cache.IsCached(entity, p))),
                "every replica dropped the team and each of its cached projects");
        }

        // Both replicas compete on the event queue: whichever takes an event must not fire the removed automations.
        for (var i = 0; i < 8; i++)
        {
            var e = Event(projects[i % 2], entity: entity);
            await fx.HandleAsync(e);
            Assert.Equal(["keep"], await FiredAsync(e.EventId));
        }
    }

    [Fact]
    public async Task Should_keep_a_metric_window_per_project_for_one_run_id_in_two_projects()
    {
        var (entityId, entity) = await NewTeamAsync();
        var automation = await CreateTeamAutomationAsync(entityId, "loss-high", null, RunEventTypes.RunMetricThreshold, collection: null,
            runFilter: """{"metric":{"name":"loss","cmp":">","threshold":0.9}}""");
        // Run ids are unique within a project only: the same id in two projects is two runs, each crossing once.
        foreach (var project in new[] { NewProject("x-"), NewProject("y-") })
        {
            var e = new RunEventReceived(Guid.CreateVersion7(), "p-" + Guid.NewGuid().ToString("N")[..8], RunEventTypes.RunMetric, entity, project, "run-1",
                "glad-sky-7", "jane", null, null, 1, new Dictionary<string, double> { ["loss"] = 0.95 }, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
            var id = Guid.CreateVersion7();
            await fx.PublishAsync(e, id);
            await Eventually.TrueAsync(async () =>
            {
                await using var c = await fx.DataSource.OpenConnectionAsync();
                return await c.ExecuteScalarAsync<bool>("select exists (select 1 from rules.inbox where consumer = 'rules-run-events' and message_id = @id)", new { id });
            }, $"Rules handled run event {e.EventId}");
            Assert.Equal(["loss-high"], await FiredAsync(e.EventId));
        }
        await using var db = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(2, await db.ExecuteScalarAsync<int>("select count(*) from rules.runs where automation_id = @automation", new { automation }));
    }
}
