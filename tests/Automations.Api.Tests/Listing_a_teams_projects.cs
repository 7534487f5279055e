using System.Net;
using System.Text.Json;
using Dapper;

namespace Automations.Api.Tests;

/// <summary>
/// GET /v1/entities/{entity}/projects: the projects the team's automations live under and those its events named
/// (Ingestion's view), for the console's Projects page; and a run history filtered by status and time.
/// </summary>
public class Listing_a_teams_projects(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    /// <summary>An event as Ingestion stores it.</summary>
    private async Task AddEventAsync(string entity, string project, DateTimeOffset receivedAt)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into ingestion.events (id, entity, event_id, event_type, project, collection, occurred_at, received_at, source)
            values (gen_random_uuid(), @entity, gen_random_uuid()::text, 'CREATE_ARTIFACT', @project, 'model', @receivedAt, @receivedAt, 'http')
            """, new { entity, project, receivedAt = receivedAt.UtcDateTime });
        // What Ingestion's ProjectSummary does every few seconds, from before this event's backdated received_at.
        await c.ExecuteAsync("update ingestion.projects_scanned set upto = least(upto, @receivedAt)", new { receivedAt = receivedAt.UtcDateTime });
        await c.ExecuteAsync("select ingestion.refresh_projects(interval '30 days')");
    }

    private static List<JsonElement> Projects(JsonElement page) => page.GetProperty("projects").EnumerateArray().ToList();

    [Fact]
    public async Task Should_list_projects_with_automations_and_projects_with_events_to_members()
    {
        var prefix = Unique("lp-");
        var withAutomation = prefix + "-a";
        var withEvents = prefix + "-b";
        var both = prefix + "-c";
        var hook = Unique("hook-");
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync("/v1/entities/acme/webhooks", new { name = hook, url = "https://hooks.example.com/p" })).Status);
        foreach (var project in new[] { withAutomation, both })
        {
            var created = await fx.PostAsync($"/v1/entities/acme/projects/{project}/automations", new
            {
                name = Unique("n-"),
                @event = new { type = "CREATE_ARTIFACT", collection = "model" },
                action = new { type = "webhook", webhook = hook, payload = "{}" },
            });
            Assert.Equal(HttpStatusCode.Created, created.Status);
        }
        var last = DateTimeOffset.UtcNow.AddMinutes(-5);
        await AddEventAsync("acme", withEvents, last.AddHours(-1));
        await AddEventAsync("acme", withEvents, last);
        await AddEventAsync("acme", both, last);
        await AddEventAsync("globex", prefix + "-globex", last);

        var answer = await fx.GetAsync("/v1/entities/acme/projects?limit=500", fx.MemberKey);
        Assert.Equal(HttpStatusCode.OK, answer.Status);
        var mine = Projects(answer.Body).Where(p => p.GetProperty("name").GetString()!.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.Equal([withAutomation, withEvents, both], mine.Select(p => p.GetProperty("name").GetString()));
        Assert.Equal([1, 0, 1], mine.Select(p => p.GetProperty("automations").GetInt32()));
        Assert.Equal(JsonValueKind.Null, mine[0].GetProperty("lastEventAt").ValueKind);
        Assert.Equal(last.ToUnixTimeSeconds(), mine[1].GetProperty("lastEventAt").GetDateTimeOffset().ToUnixTimeSeconds());

        // Another team's projects are its own; another team's list is a 404.
        var globex = await fx.GetAsync("/v1/entities/globex/projects", fx.OtherEntityKey);
        Assert.Equal([prefix + "-globex"], Projects(globex.Body).Select(p => p.GetProperty("name").GetString()).Where(n => n!.StartsWith(prefix, StringComparison.Ordinal)));
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync("/v1/entities/globex/projects", fx.MemberKey)).Status);
    }

    [Fact]
    public async Task Should_page_by_name()
    {
        var prefix = Unique("pg-");
        foreach (var n in new[] { "1", "2", "3" }) await AddEventAsync("acme", $"{prefix}-{n}", DateTimeOffset.UtcNow);
        var first = await fx.GetAsync($"/v1/entities/acme/projects?limit=2&after={prefix}");
        Assert.Equal([$"{prefix}-1", $"{prefix}-2"], Projects(first.Body).Select(p => p.GetProperty("name").GetString()));
        var next = first.Body.GetProperty("nextAfter").GetString();
        Assert.Equal($"{prefix}-2", next);
        var second = await fx.GetAsync($"/v1/entities/acme/projects?limit=2&after={next}");
        Assert.Equal($"{prefix}-3", Projects(second.Body)[0].GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=501", "limit")]
    [InlineData("after=x'%20or%201=1--", "after")]
    public async Task Should_refuse_a_bad_query_naming_the_field(string query, string field)
    {
        var answer = await fx.GetAsync($"/v1/entities/acme/projects?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
        Assert.NotEmpty(ApiFixture.ErrorsOf(answer.Body, field));
    }

    [Fact]
    public async Task Should_filter_a_run_history_by_status_and_time()
    {
        var project = Unique("rf-");
        var automationId = Guid.NewGuid();
        var now = DateTimeOffset.UtcNow;
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync(
                """
                insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event,
                                        action_type, command_id, status, created_at)
                select gen_random_uuid(), @automationId, 'filtered', 'acme', @project, gen_random_uuid(), 'e-' || n, 'CREATE_ARTIFACT', '{}', 'no_op',
                       gen_random_uuid(), st, @now - make_interval(hours => n)
                from (values (1, 'Failed'), (2, 'Finished'), (3, 'Failed'), (30, 'Failed')) r(n, st)
                """, new { automationId, project, now = now.UtcDateTime });
        var runs = $"/v1/entities/acme/projects/{project}/automations/{automationId}/runs";

        var failed = await fx.GetAsync($"{runs}?status=Failed", fx.MemberKey);
        Assert.Equal(HttpStatusCode.OK, failed.Status);
        Assert.Equal(3, failed.Body.GetProperty("runs").GetArrayLength());
        var since = Uri.EscapeDataString(now.AddHours(-4).ToString("O"));
        var until = Uri.EscapeDataString(now.AddMinutes(-90).ToString("O"));
        var window = await fx.GetAsync($"{runs}?status=Failed&since={since}&until={until}", fx.MemberKey);
        var only = Assert.Single(window.Body.GetProperty("runs").EnumerateArray());
        Assert.Equal("Failed", only.GetProperty("status").GetString());
        Assert.Equal(2, (await fx.GetAsync($"{runs}?since={since}&until={until}")).Body.GetProperty("runs").GetArrayLength());

        foreach (var (query, field) in new[] { ("status=failed", "status"), ("since=yesterday", "since"), ($"since={until}&until={since}", "until") })
        {
            var bad = await fx.GetAsync($"{runs}?{query}");
            Assert.Equal(HttpStatusCode.BadRequest, bad.Status);
            Assert.NotEmpty(ApiFixture.ErrorsOf(bad.Body, field));
        }
    }
}
