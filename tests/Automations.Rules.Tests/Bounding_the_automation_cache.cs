using Automations.Persistence.Control;
using Automations.Rules.Matching;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Automations.Rules.Tests;

/// <summary>
/// The cache holds at most Rules:CacheMaxEntries projects however many projects events name (a team automation makes
/// every project of its entity worth caching), and a team automation is compiled once per entity, shared by the
/// entries of all the projects it applies to.
/// </summary>
public class Bounding_the_automation_cache(RulesFixture fx) : IClassFixture<RulesFixture>
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static AutomationCache Cache(Clock clock, int max) =>
        new(Options.Create(new RulesOptions { CacheMaxEntries = max, CacheTtl = TimeSpan.FromMinutes(1) }), clock, NullLogger<AutomationCache>.Instance);

    private async Task<string> NewTeamWithAutomationAsync()
    {
        var name = "b" + Guid.NewGuid().ToString("N")[..10];
        var team = await Bootstrap.CreateEntityWithAdminAsync(fx.DataSource, name, "admin-" + name);
        await using var c = await fx.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into control.automations (id, entity_id, project, scope, name, event_type, collection, action_type)
            values (@id, @entityId, null, 'team', 'everywhere', 'CREATE_ARTIFACT', 'eval-set', 'no_op')
            """, new { id = Guid.CreateVersion7(), entityId = team.EntityId });
        return name;
    }

    [Fact]
    public async Task Should_keep_at_most_the_configured_number_of_projects_and_make_room_from_expired_ones()
    {
        var entity = await NewTeamWithAutomationAsync();
        var clock = new Clock();
        var cache = Cache(clock, max: 3);
        await using var c = await fx.DataSource.OpenConnectionAsync();

        var lists = new List<IReadOnlyList<CompiledAutomation>>();
        for (var i = 0; i < 5; i++) lists.Add(await cache.GetAsync(c, null, entity, $"p{i}", CancellationToken.None));
        Assert.Equal(3, cache.Count);
        // Past the bound a project is still served, from the database.
        Assert.All(lists, l => Assert.Equal("everywhere", Assert.Single(l).Row.Name));
        // One compiled team automation, shared by every project's entry.
        Assert.All(lists, l => Assert.Same(lists[0][0], l[0]));

        clock.Now += TimeSpan.FromMinutes(2);
        await cache.GetAsync(c, null, entity, "p5", CancellationToken.None);
        await cache.GetAsync(c, null, entity, "p6", CancellationToken.None);
        Assert.Equal(2, cache.Count);
        Assert.True(cache.IsCached(entity, "p5") && cache.IsCached(entity, "p6"));
    }
}
