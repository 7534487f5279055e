using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Testing;
using Dapper;

namespace Automations.EndToEnd.Tests;

/// <summary>
/// Team automations through Api, Ingestion and Rules: created by an admin before any of the projects it will watch
/// exists, they fire for artifact and run events of brand-new projects their project regex finds, not for others, and
/// stop from the next event once disabled or deleted (the team change drops every cached project).
/// </summary>
public class Watching_every_project_of_a_team(RunEventsFixture fx) : IClassFixture<RunEventsFixture>
{
    private const string Team = "/v1/entities/acme/automations";

    private static string NewProject(string prefix) => prefix + Guid.NewGuid().ToString("N")[..10];

    private async Task<Guid> CreateAsync(HttpClient api, object body)
    {
        using var created = await api.PostAsJsonAsync(Team, body);
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var json = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("team", json.GetProperty("scope").GetString());
        var id = json.GetProperty("id").GetGuid();
        await fx.RulesSawChangeAsync(id);
        return id;
    }

    /// <summary>Sends <paramref name="change"/> through the Api and waits until Rules has consumed the AutomationsChanged it publishes.</summary>
    private async Task ChangeAsync(Guid id, Func<Task<HttpResponseMessage>> change)
    {
        fx.ChangesSeenByRules.TryRemove(id, out _);
        using var response = await change();
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        await fx.RulesSawChangeAsync(id);
    }

    private async Task ArtifactAsync(string project)
    {
        var id = await fx.PostEventAsync(new
        {
            eventId = Guid.NewGuid().ToString(), eventType = "CREATE_ARTIFACT", entity = "acme", project, collection = "team-set",
            versionId = "QXJ0aWZhY3Q6NTE3ODg5ODg3", versionIndex = 1, author = "jane", occurredAt = DateTimeOffset.UtcNow,
        });
        await HandledAsync(id, "rules-artifact-events");
    }

    private async Task RunFinishedAsync(string project)
    {
        var id = await fx.PostEventAsync(new
        {
            eventId = Guid.NewGuid().ToString(), eventType = "RUN_STATE", entity = "acme", project, runId = "run" + Guid.NewGuid().ToString("N")[..8],
            runName = "glad-sky-7", user = "jane", state = "finished", occurredAt = DateTimeOffset.UtcNow,
        });
        await HandledAsync(id, "rules-run-events");
    }

    private Task HandledAsync(Guid messageId, string consumer) =>
        Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<bool>("select exists (select from rules.inbox where consumer = @consumer and message_id = @messageId)", new { consumer, messageId });
        }, $"Rules handled message {messageId}", TimeSpan.FromSeconds(60));

    private async Task<List<string>> ProjectsFiredAsync(Guid automationId)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return (await c.QueryAsync<string>("select project from rules.runs where automation_id = @automationId order by created_at", new { automationId })).AsList();
    }

    [Fact]
    public async Task Should_fire_for_projects_created_after_it_that_its_regex_finds_until_disabled_or_deleted()
    {
        using var api = fx.ApiClient();
        var prefix = "prod" + Guid.NewGuid().ToString("N")[..6] + "-";
        var artifacts = await CreateAsync(api, new
        {
            name = "team-artifacts-" + prefix, @event = new { type = "CREATE_ARTIFACT", collection = "team-set", projectRegex = "^" + prefix },
            action = new { type = "no_op" },
        });
        var runs = await CreateAsync(api, new
        {
            name = "team-runs-" + prefix, @event = new { type = "RUN_STATE", state = "finished", projectRegex = "^" + prefix },
            action = new { type = "no_op" },
        });

        // Neither project existed when the automations were saved (no event, no automation named them).
        var first = NewProject(prefix);
        var excluded = NewProject("dev-" + prefix);
        await ArtifactAsync(first);
        await ArtifactAsync(excluded);
        await RunFinishedAsync(first);
        await RunFinishedAsync(excluded);
        Assert.Equal([first], await ProjectsFiredAsync(artifacts));
        Assert.Equal([first], await ProjectsFiredAsync(runs));

        // A second new project while the team's automations are cached: found as well.
        var second = NewProject(prefix);
        await ArtifactAsync(second);
        Assert.Equal([first, second], await ProjectsFiredAsync(artifacts));

        // Read back: the team route has every project's runs, a project's route its own, and the project's list marks it.
        var teamRuns = (await api.GetFromJsonAsync<JsonElement>($"{Team}/{artifacts}/runs")).GetProperty("runs");
        Assert.Equal([second, first], teamRuns.EnumerateArray().Select(r => r.GetProperty("project").GetString()));
        var projectRuns = (await api.GetFromJsonAsync<JsonElement>($"/v1/entities/acme/projects/{first}/automations/{artifacts}/runs")).GetProperty("runs");
        Assert.Equal(1, projectRuns.GetArrayLength());
        var listed = (await api.GetFromJsonAsync<JsonElement>($"/v1/entities/acme/projects/{first}/automations")).EnumerateArray()
            .Single(a => a.GetProperty("id").GetGuid() == artifacts);
        Assert.Equal("team", listed.GetProperty("scope").GetString());
        Assert.DoesNotContain((await api.GetFromJsonAsync<JsonElement>($"/v1/entities/acme/projects/{excluded}/automations")).EnumerateArray(),
            a => a.GetProperty("id").GetGuid() == artifacts);

        // Disabled: no run in a cached project nor in a new one; enabled again, it fires again.
        await ChangeAsync(artifacts, () => api.PostAsync($"{Team}/{artifacts}/disable", null));
        var third = NewProject(prefix);
        await ArtifactAsync(first);
        await ArtifactAsync(third);
        Assert.Equal([first, second], await ProjectsFiredAsync(artifacts));
        await ChangeAsync(artifacts, () => api.PostAsync($"{Team}/{artifacts}/enable", null));
        await ArtifactAsync(third);
        Assert.Equal([first, second, third], await ProjectsFiredAsync(artifacts));

        // Deleted: gone from the next event on; its runs stay readable through the team route.
        await ChangeAsync(artifacts, () => api.DeleteAsync($"{Team}/{artifacts}"));
        await ArtifactAsync(first);
        await ArtifactAsync(NewProject(prefix));
        Assert.Equal(3, (await ProjectsFiredAsync(artifacts)).Count);
        Assert.Equal(3, (await api.GetFromJsonAsync<JsonElement>($"{Team}/{artifacts}/runs")).GetProperty("runs").GetArrayLength());
    }
}
