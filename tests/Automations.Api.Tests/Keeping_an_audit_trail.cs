using System.Net;
using System.Text.Json;
using Automations.Api.AuditTrail;
using Automations.Persistence.Control;
using Automations.Persistence.Retention;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit.Abstractions;

namespace Automations.Api.Tests;

/// <summary>
/// The audit trail (docs/audit.md): every control-plane change is an entry saying who (user and key id), when, what and
/// before/after, written in the change's own transaction; GET /audit shows it to admins, filtered and paged. No secret
/// value (a secret's, an integration URL, an API key) is in an entry, in the answer or in the table. Each test has its own
/// team, so its trail holds only its own changes.
/// </summary>
public class Keeping_an_audit_trail(ApiFixture fx, ITestOutputHelper output) : IClassFixture<ApiFixture>
{
    private sealed record Team(string Name, Guid EntityId, string Key, Guid KeyId, string Admin)
    {
        public string Api => $"/v1/entities/{Name}";
    }

    private async Task<Team> NewTeamAsync()
    {
        var suffix = Guid.NewGuid().ToString("N")[..8];
        var created = await Bootstrap.CreateEntityWithAdminAsync(fx.DataSource, "audit-" + suffix, "auditor-" + suffix);
        return new Team("audit-" + suffix, created.EntityId, created.ApiKey, created.KeyId, "auditor-" + suffix);
    }

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    private async Task<(JsonElement Body, string Text)> AuditAsync(Team team, string query = "", string? key = null)
    {
        var answer = await fx.GetAsync($"{team.Api}/audit{query}", key ?? team.Key);
        Assert.True(answer.Status == HttpStatusCode.OK, $"GET /audit{query}: {(int)answer.Status} {answer.Text}");
        return (answer.Body, answer.Text);
    }

    private async Task<List<JsonElement>> EntriesAsync(Team team, string query = "") =>
        (await AuditAsync(team, query)).Body.GetProperty("entries").EnumerateArray().ToList();

    /// <summary>Every column of every row of the team's trail, as text.</summary>
    private async Task<string> RawRowsAsync(Team team)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return string.Join("\n", await c.QueryAsync<string>("select row_to_json(a)::text from control.audit a where entity_id = @EntityId", new { team.EntityId }));
    }

    /// <summary>None of <paramref name="values"/>, nor the team's own key, is in the audit answer or in the table.</summary>
    private async Task AssertNoSecretAsync(Team team, params string[] values)
    {
        var answer = (await AuditAsync(team, "?limit=500")).Text;
        var raw = await RawRowsAsync(team);
        Assert.NotEmpty(raw);
        foreach (var value in values.Append(team.Key))
        {
            Assert.DoesNotContain(value, answer, StringComparison.Ordinal);
            Assert.DoesNotContain(value, raw, StringComparison.Ordinal);
        }
    }

    /// <summary>Who, with which key, what, on what; the time is the change's, within the test's run.</summary>
    private void AssertEntry(JsonElement e, Team team, string kind, string action, string? targetName, string? actor = null, Guid? keyId = null)
    {
        Assert.Equal(kind, e.GetProperty("kind").GetString());
        Assert.Equal(action, e.GetProperty("action").GetString());
        Assert.Equal(actor ?? team.Admin, e.GetProperty("actor").GetString());
        Assert.Equal(keyId ?? team.KeyId, e.GetProperty("keyId").GetGuid());
        if (targetName is not null) Assert.Equal(targetName, e.GetProperty("target").GetProperty("name").GetString());
        Assert.InRange(e.GetProperty("at").GetDateTimeOffset(), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1));
    }

    private static JsonElement Before(JsonElement e) => e.GetProperty("before");
    private static JsonElement After(JsonElement e) => e.GetProperty("after");
    private static bool IsNull(JsonElement e) => e.ValueKind == JsonValueKind.Null;

    private async Task<JsonElement> CreatedAsync(Team team, string path, object body)
    {
        var answer = await fx.PostAsync(team.Api + path, body, team.Key);
        Assert.True(answer.Status == HttpStatusCode.Created, $"POST {path}: {(int)answer.Status} {answer.Text}");
        return answer.Body;
    }

    private async Task OkAsync(Task<(HttpStatusCode Status, JsonElement Body, string Text)> call, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var answer = await call;
        Assert.True(answer.Status == expected, $"expected {expected}, got {(int)answer.Status} {answer.Text}");
    }

    /// <summary>A member of the team with a key of their own.</summary>
    private async Task<(string User, string Key, Guid KeyId)> MemberAsync(Team team)
    {
        var user = Unique("member-");
        await CreatedAsync(team, "/members", new { user, role = "member" });
        var key = await CreatedAsync(team, "/keys", new { name = "key of " + user, scopes = new[] { "api" }, user });
        return (user, key.GetProperty("key").GetString()!, key.GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Should_record_a_secret_created_replaced_and_deleted_and_never_its_value()
    {
        var team = await NewTeamAsync();
        const string first = "ghp_FIRSTsecretVALUE_4f1c2a9d", second = "ghp_SECONDsecretVALUE_77b0e3c1";
        await CreatedAsync(team, "/secrets", new { name = "GITHUB_TOKEN", value = first });
        await OkAsync(fx.PutAsync($"{team.Api}/secrets/GITHUB_TOKEN", new { value = second }, team.Key));
        // A refused change leaves no entry: it rolled back with its transaction.
        await CreatedAsync(team, "/webhooks", new { name = "uses it", url = "https://hooks.example.com/x", secret = "GITHUB_TOKEN" });
        await OkAsync(fx.DeleteAsync($"{team.Api}/secrets/GITHUB_TOKEN", team.Key), HttpStatusCode.Conflict);
        var webhook = (await EntriesAsync(team, "?kind=webhook")).Single();
        await OkAsync(fx.DeleteAsync($"{team.Api}/webhooks/{webhook.GetProperty("target").GetProperty("id").GetGuid()}", team.Key), HttpStatusCode.NoContent);
        await OkAsync(fx.DeleteAsync($"{team.Api}/secrets/GITHUB_TOKEN", team.Key), HttpStatusCode.NoContent);

        var entries = await EntriesAsync(team, "?kind=secret");
        Assert.Equal(3, entries.Count);
        var (deleted, replaced, created) = (entries[0], entries[1], entries[2]);
        AssertEntry(created, team, "secret", "create", "GITHUB_TOKEN");
        Assert.True(IsNull(Before(created)));
        Assert.Equal("""{"name":"GITHUB_TOKEN","changed":true}""", After(created).GetRawText());
        AssertEntry(replaced, team, "secret", "update", "GITHUB_TOKEN");
        Assert.Equal("""{"name":"GITHUB_TOKEN"}""", Before(replaced).GetRawText());
        Assert.Equal("""{"name":"GITHUB_TOKEN","changed":true}""", After(replaced).GetRawText());
        AssertEntry(deleted, team, "secret", "delete", "GITHUB_TOKEN");
        Assert.True(IsNull(After(deleted)));
        Assert.Equal(created.GetProperty("target").GetProperty("id").GetGuid(), deleted.GetProperty("target").GetProperty("id").GetGuid());
        Assert.Equal("bootstrap (" + team.Admin + ")", created.GetProperty("keyName").GetString());
        await AssertNoSecretAsync(team, first, second);
    }

    [Fact]
    public async Task Should_record_webhooks_with_their_secret_names_only()
    {
        var team = await NewTeamAsync();
        const string signing = "whsec_SIGNINGvalue_0a9b8c7d", token = "ghp_TOKENvalue_1e2d3c4b";
        await CreatedAsync(team, "/secrets", new { name = "SIGNING", value = signing });
        await CreatedAsync(team, "/secrets", new { name = "TOKEN", value = token });
        var hook = await CreatedAsync(team, "/webhooks", new { name = "deploy", url = "https://hooks.example.com/one", secret = "SIGNING", accessToken = "TOKEN" });
        var id = hook.GetProperty("id").GetGuid();
        await OkAsync(fx.PutAsync($"{team.Api}/webhooks/{id}", new { name = "deploy", url = "https://hooks.example.com/two", secret = "SIGNING" }, team.Key));
        await OkAsync(fx.DeleteAsync($"{team.Api}/webhooks/{id}", team.Key), HttpStatusCode.NoContent);

        var entries = await EntriesAsync(team, "?kind=webhook");
        Assert.Equal(["delete", "update", "create"], entries.Select(e => e.GetProperty("action").GetString()));
        foreach (var e in entries)
        {
            AssertEntry(e, team, "webhook", e.GetProperty("action").GetString()!, "deploy");
            Assert.Equal(id, e.GetProperty("target").GetProperty("id").GetGuid());
        }
        var created = After(entries[2]);
        Assert.Equal("https://hooks.example.com/one", created.GetProperty("url").GetString());
        Assert.Equal("SIGNING", created.GetProperty("secret").GetString());
        Assert.Equal("TOKEN", created.GetProperty("accessToken").GetString());
        Assert.Equal("https://hooks.example.com/one", Before(entries[1]).GetProperty("url").GetString());
        Assert.Equal("https://hooks.example.com/two", After(entries[1]).GetProperty("url").GetString());
        Assert.True(IsNull(After(entries[1]).GetProperty("accessToken")));
        Assert.Equal("https://hooks.example.com/two", Before(entries[0]).GetProperty("url").GetString());
        Assert.True(IsNull(After(entries[0])));
        await AssertNoSecretAsync(team, signing, token);
    }

    [Fact]
    public async Task Should_record_integrations_with_their_url_masked()
    {
        var team = await NewTeamAsync();
        const string url = "https://hooks.slack.com/services/T0AUDIT00/B0AUDIT00/firstSECRETpathXYZ1";
        const string url2 = "https://hooks.slack.com/services/T0AUDIT00/B0AUDIT00/secondSECRETpathQRS2";
        var created = await CreatedAsync(team, "/integrations", new { name = "alerts", kind = "slack", url });
        var id = created.GetProperty("id").GetGuid();
        await OkAsync(fx.PutAsync($"{team.Api}/integrations/{id}", new { name = "alerts", url = url2 }, team.Key));
        await OkAsync(fx.DeleteAsync($"{team.Api}/integrations/{id}", team.Key), HttpStatusCode.NoContent);

        var entries = await EntriesAsync(team, "?kind=integration");
        Assert.Equal(["delete", "update", "create"], entries.Select(e => e.GetProperty("action").GetString()));
        AssertEntry(entries[2], team, "integration", "create", "alerts");
        Assert.Equal("slack", After(entries[2]).GetProperty("kind").GetString());
        Assert.Equal(created.GetProperty("url").GetString(), After(entries[2]).GetProperty("url").GetString());
        Assert.NotEqual(Before(entries[1]).GetProperty("url").GetString(), After(entries[1]).GetProperty("url").GetString());
        await AssertNoSecretAsync(team, url, url2, "firstSECRETpath", "secondSECRETpath");
    }

    [Fact]
    public async Task Should_record_project_automations_with_their_project_and_author()
    {
        var team = await NewTeamAsync();
        var member = await MemberAsync(team);
        var path = $"{team.Api}/projects/mnist/automations";
        var body = new { name = "watch", description = "first", @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" }, action = new { type = "no_op" } };
        var created = await fx.PostAsync(path, body, member.Key);
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body.GetProperty("id").GetGuid();
        await OkAsync(fx.PutAsync($"{path}/{id}", body with { }, member.Key));
        await OkAsync(fx.PutAsync($"{path}/{id}", new { name = "watch", description = "second", body.@event, body.action }, member.Key));
        await OkAsync(fx.PostAsync($"{path}/{id}/disable", null, member.Key));
        await OkAsync(fx.PostAsync($"{path}/{id}/enable", null, team.Key));
        await OkAsync(fx.DeleteAsync($"{path}/{id}", team.Key), HttpStatusCode.NoContent);

        var entries = await EntriesAsync(team, "?kind=automation");
        Assert.Equal(["delete", "enable", "disable", "update", "update", "create"], entries.Select(e => e.GetProperty("action").GetString()));
        Assert.All(entries, e => Assert.Equal("mnist", e.GetProperty("project").GetString()));
        AssertEntry(entries[5], team, "automation", "create", "watch", member.User, member.KeyId);
        Assert.Equal(id, After(entries[5]).GetProperty("id").GetGuid());
        Assert.Equal("project", After(entries[5]).GetProperty("scope").GetString());
        Assert.Equal("first", Before(entries[3]).GetProperty("description").GetString());
        Assert.Equal("second", After(entries[3]).GetProperty("description").GetString());
        Assert.True(Before(entries[2]).GetProperty("enabled").GetBoolean());
        Assert.False(After(entries[2]).GetProperty("enabled").GetBoolean());
        AssertEntry(entries[1], team, "automation", "enable", "watch");
        AssertEntry(entries[0], team, "automation", "delete", "watch");
        Assert.Equal("second", Before(entries[0]).GetProperty("description").GetString());
        Assert.True(IsNull(After(entries[0])));
        Assert.Single(await EntriesAsync(team, $"?kind=automation&actor={member.User}&action=disable"));
        await AssertNoSecretAsync(team, member.Key);
    }

    [Fact]
    public async Task Should_record_team_automations_without_a_project()
    {
        var team = await NewTeamAsync();
        var body = new { name = "everywhere", @event = new { type = "CREATE_ARTIFACT", collection = "eval-set", projectRegex = "^mnist" }, action = new { type = "no_op" } };
        var id = (await CreatedAsync(team, "/automations", body)).GetProperty("id").GetGuid();
        await OkAsync(fx.PutAsync($"{team.Api}/automations/{id}", new { name = "everywhere", @event = new { type = "CREATE_ARTIFACT", collection = "model", projectRegex = "^mnist" }, body.action }, team.Key));
        await OkAsync(fx.DeleteAsync($"{team.Api}/automations/{id}", team.Key), HttpStatusCode.NoContent);

        var entries = await EntriesAsync(team, "?kind=team_automation");
        Assert.Equal(["delete", "update", "create"], entries.Select(e => e.GetProperty("action").GetString()));
        Assert.All(entries, e => Assert.True(IsNull(e.GetProperty("project"))));
        AssertEntry(entries[2], team, "team_automation", "create", "everywhere");
        Assert.Equal("team", After(entries[2]).GetProperty("scope").GetString());
        Assert.Equal("eval-set", Before(entries[1]).GetProperty("event").GetProperty("collection").GetString());
        Assert.Equal("model", After(entries[1]).GetProperty("event").GetProperty("collection").GetString());
    }

    [Fact]
    public async Task Should_record_keys_by_id_and_name_never_the_key()
    {
        var team = await NewTeamAsync();
        var key = await CreatedAsync(team, "/keys", new { name = "ci producer", scopes = new[] { "events:write" } });
        var id = key.GetProperty("id").GetGuid();
        var secret = key.GetProperty("key").GetString()!;
        await OkAsync(fx.DeleteAsync($"{team.Api}/keys/{id}", team.Key), HttpStatusCode.NoContent);
        // Revoking a revoked key changes nothing, and is not recorded again.
        await OkAsync(fx.DeleteAsync($"{team.Api}/keys/{id}", team.Key), HttpStatusCode.NoContent);

        var entries = await EntriesAsync(team, "?kind=key");
        Assert.Equal(["revoke", "create"], entries.Select(e => e.GetProperty("action").GetString()));
        AssertEntry(entries[1], team, "key", "create", "ci producer");
        var view = After(entries[1]);
        Assert.Equal(["id", "name", "revokedAt", "scopes", "user"], view.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(id, view.GetProperty("id").GetGuid());
        Assert.Equal(["events:write"], view.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.True(IsNull(Before(entries[0]).GetProperty("revokedAt")));
        Assert.Equal(JsonValueKind.String, After(entries[0]).GetProperty("revokedAt").ValueKind);
        // Neither the key nor the prefix the key list displays.
        await AssertNoSecretAsync(team, secret, key.GetProperty("display").GetString()!.TrimEnd('…'));
    }

    [Fact]
    public async Task Should_record_members_added_changed_and_removed_with_the_keys_removal_revokes()
    {
        var team = await NewTeamAsync();
        var member = await MemberAsync(team);
        await OkAsync(fx.PostAsync($"{team.Api}/members", new { user = member.User, role = "admin", email = "m@example.com" }, team.Key));
        // The same again changes nothing and records nothing.
        await OkAsync(fx.PostAsync($"{team.Api}/members", new { user = member.User, role = "admin" }, team.Key));
        await OkAsync(fx.DeleteAsync($"{team.Api}/members/{member.User}", team.Key), HttpStatusCode.NoContent);

        var entries = await EntriesAsync(team, "?kind=member");
        Assert.Equal(["delete", "update", "create"], entries.Select(e => e.GetProperty("action").GetString()));
        AssertEntry(entries[2], team, "member", "create", member.User);
        Assert.Equal("member", After(entries[2]).GetProperty("role").GetString());
        Assert.Equal("member", Before(entries[1]).GetProperty("role").GetString());
        Assert.Equal("admin", After(entries[1]).GetProperty("role").GetString());
        Assert.Equal("m@example.com", After(entries[1]).GetProperty("email").GetString());
        Assert.Equal("admin", Before(entries[0]).GetProperty("role").GetString());
        Assert.True(IsNull(After(entries[0])));

        var keys = await EntriesAsync(team, "?kind=key");
        Assert.Equal(["revoke", "create"], keys.Select(e => e.GetProperty("action").GetString()));
        Assert.Equal(member.KeyId, keys[0].GetProperty("target").GetProperty("id").GetGuid());
        Assert.Equal(member.User, After(keys[0]).GetProperty("user").GetString());
        await AssertNoSecretAsync(team, member.Key);
    }

    [Fact]
    public async Task Should_record_queues_jobs_and_job_versions()
    {
        var team = await NewTeamAsync();
        var queue = (await CreatedAsync(team, "/queues", new { name = "gpu", description = "one" })).GetProperty("id").GetGuid();
        await OkAsync(fx.PutAsync($"{team.Api}/queues/{queue}", new { name = "gpu-pool", description = "two" }, team.Key));
        await OkAsync(fx.DeleteAsync($"{team.Api}/queues/{queue}", team.Key), HttpStatusCode.NoContent);
        var job = (await CreatedAsync(team, "/jobs", new { name = "retrain" })).GetProperty("id").GetGuid();
        await OkAsync(fx.PutAsync($"{team.Api}/jobs/{job}", new { name = "retrain", description = "nightly" }, team.Key));
        await CreatedAsync(team, $"/jobs/{job}/versions", new { command = "python", args = new[] { "train.py" }, defaultConfig = new { epochs = 3 } });
        await OkAsync(fx.DeleteAsync($"{team.Api}/jobs/{job}", team.Key), HttpStatusCode.NoContent);

        var queues = await EntriesAsync(team, "?kind=queue");
        Assert.Equal(["delete", "update", "create"], queues.Select(e => e.GetProperty("action").GetString()));
        AssertEntry(queues[1], team, "queue", "update", "gpu-pool");
        Assert.Equal("gpu", Before(queues[1]).GetProperty("name").GetString());
        Assert.Equal("two", After(queues[1]).GetProperty("description").GetString());
        Assert.Equal("gpu-pool", Before(queues[0]).GetProperty("name").GetString());

        var jobs = await EntriesAsync(team, "?kind=job");
        Assert.Equal(["delete", "update", "create"], jobs.Select(e => e.GetProperty("action").GetString()));
        Assert.Equal("nightly", After(jobs[1]).GetProperty("description").GetString());
        Assert.Equal(1, Before(jobs[0]).GetProperty("latestVersion").GetInt32());
        var version = Assert.Single(await EntriesAsync(team, "?kind=job_version"));
        AssertEntry(version, team, "job_version", "create", "retrain");
        Assert.Equal(job, version.GetProperty("target").GetProperty("id").GetGuid());
        Assert.Equal(1, After(version).GetProperty("version").GetInt32());
        Assert.Equal(3, After(version).GetProperty("defaultConfig").GetProperty("epochs").GetInt32());
    }

    [Fact]
    public async Task Should_record_an_apply_with_its_summary_and_an_entry_per_object_it_changed()
    {
        var t = await Applying_a_team_configuration.NewTeamAsync(fx);
        await using (var c = await fx.DataSource.OpenConnectionAsync())
        {
            var ids = await c.QuerySingleAsync<(Guid EntityId, Guid KeyId, string User)>(
                """
                select e.id, k.id, u.name from control.entities e join control.api_keys k on k.entity_id = e.id join control.users u on u.id = k.user_id
                where e.name = @Name
                """, new { t.Name });
            var team = new Team(t.Name, ids.EntityId, t.Key, ids.KeyId, ids.User);
            var applied = await Applying_a_team_configuration.SendAsync(fx.Api.Client, t, "apply", Applying_a_team_configuration.FullFile(t.Name));
            Assert.True(applied.Status == HttpStatusCode.OK, applied.Text);
            // Planning changes nothing and records nothing.
            await Applying_a_team_configuration.SendAsync(fx.Api.Client, t, "plan", Applying_a_team_configuration.FullFile(t.Name));

            var apply = Assert.Single(await EntriesAsync(team, "?kind=config_apply"));
            AssertEntry(apply, team, "config_apply", "apply", t.Name);
            var after = After(apply);
            Assert.Equal(applied.Body.GetProperty("version").GetString(), after.GetProperty("version").GetString());
            Assert.Equal(applied.Body.GetProperty("versionAfter").GetString(), after.GetProperty("versionAfter").GetString());
            Assert.Equal(7, after.GetProperty("summary").GetProperty("create").GetInt32());
            Assert.Equal(7, after.GetProperty("changes").GetArrayLength());

            var objects = (await EntriesAsync(team, "?action=create")).Where(e => e.GetProperty("kind").GetString() is "webhook" or "integration" or "queue" or "automation").ToList();
            Assert.Equal(7, objects.Count);
            Assert.All(objects, e => Assert.Equal(apply.GetProperty("id").GetGuid(), After(e).GetProperty("configApply").GetGuid()));
            Assert.Equal(["evaluate new eval sets", "tell the team"],
                (await EntriesAsync(team, "?kind=automation&project=mnist")).Select(e => e.GetProperty("target").GetProperty("name").GetString()).Order());
            await AssertNoSecretAsync(team, Applying_a_team_configuration.GitHubToken, Applying_a_team_configuration.SlackUrl, "abcdefghijklmnopqrst");
        }
    }

    [Fact]
    public async Task Should_show_the_trail_to_admins_only()
    {
        var member = await fx.GetAsync("/v1/entities/acme/audit", fx.MemberKey);
        Assert.Equal(HttpStatusCode.Forbidden, member.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.GetAsync("/v1/entities/acme/audit", "not-a-key")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync("/v1/entities/acme/audit", fx.OtherEntityKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await fx.GetAsync("/v1/entities/acme/audit", fx.AdminKey)).Status);
    }

    [Fact]
    public async Task Should_filter_and_page_newest_first_and_say_how_far_back_it_reaches()
    {
        var team = await NewTeamAsync();
        var start = DateTimeOffset.UtcNow.AddSeconds(-1);
        var queues = new List<Guid>();
        for (var i = 0; i < 5; i++) queues.Add((await CreatedAsync(team, "/queues", new { name = $"q{i}" })).GetProperty("id").GetGuid());
        await CreatedAsync(team, "/jobs", new { name = "retrain" });
        await OkAsync(fx.PutAsync($"{team.Api}/queues/{queues[0]}", new { name = "q0", description = "changed" }, team.Key));

        var (all, text) = await AuditAsync(team);
        output.WriteLine(text);
        var entries = all.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(7, entries.Count);
        Assert.Equal("update", entries[0].GetProperty("action").GetString());
        var times = entries.Select(e => e.GetProperty("at").GetDateTimeOffset()).ToList();
        Assert.Equal(times.OrderByDescending(t => t), times);
        Assert.True(IsNull(all.GetProperty("nextCursor")));
        Assert.Equal("P30D", all.GetProperty("retention").GetProperty("keptFor").GetString());
        using (var response = await fx.SendAsync(HttpMethod.Get, $"{team.Api}/audit", null, team.Key))
            Assert.Equal("P30D", Assert.Single(response.Headers.GetValues("Automations-History-Kept-For")));

        Assert.Equal(6, (await EntriesAsync(team, "?kind=queue")).Count);
        Assert.Equal(6, (await EntriesAsync(team, "?action=create")).Count);
        Assert.Equal(5, (await EntriesAsync(team, "?kind=queue&action=create")).Count);
        Assert.Equal(2, (await EntriesAsync(team, "?target=q0")).Count);
        Assert.Equal(2, (await EntriesAsync(team, $"?target={queues[0]}")).Count);
        Assert.Equal(7, (await EntriesAsync(team, $"?actor={team.Admin}")).Count);
        Assert.Empty(await EntriesAsync(team, "?actor=somebody-else"));
        Assert.Empty(await EntriesAsync(team, "?project=mnist"));
        Assert.Equal(7, (await EntriesAsync(team, $"?since={Uri.EscapeDataString(start.ToString("O"))}")).Count);
        Assert.Empty(await EntriesAsync(team, $"?until={Uri.EscapeDataString(start.ToString("O"))}"));
        var middle = times[3];
        Assert.Equal(entries.Count(e => e.GetProperty("at").GetDateTimeOffset() >= middle),
            (await EntriesAsync(team, $"?since={Uri.EscapeDataString(middle.ToString("O"))}")).Count);

        // Pages of two, each after the last: the whole trail once, in order.
        var paged = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var (page, _) = await AuditAsync(team, "?limit=2" + (cursor is null ? "" : "&cursor=" + cursor));
            paged.AddRange(page.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        } while (cursor is not null && pages < 10);
        Assert.Equal(4, pages);
        Assert.Equal(entries.Select(e => e.GetProperty("id").GetGuid()), paged);
        var filtered = await AuditAsync(team, "?kind=queue&limit=4");
        var rest = await EntriesAsync(team, "?kind=queue&limit=4&cursor=" + filtered.Body.GetProperty("nextCursor").GetString());
        Assert.Equal(2, rest.Count);
    }

    public static TheoryData<string, string> BadFilters() => new()
    {
        { "?kind=password", "kind" },
        { "?kind=", "kind" },
        { "?action=steal", "action" },
        { "?actor=", "actor" },
        { "?target=" + new string('t', 201), "target" },
        { "?project=", "project" },
        { "?since=yesterday", "since" },
        { "?until=2026-13-45", "until" },
        { "?since=2026-12-04T00:00:00Z&until=2026-12-03T00:00:00Z", "until" },
        { "?limit=0", "limit" },
        { "?limit=501", "limit" },
        { "?limit=abc", "limit" },
        { "?cursor=not-a-cursor", "cursor" },
        { "?cursor=" + new string('A', 400), "cursor" },
        { "?cursor=MTIzLm5vdGFndWlk", "cursor" },
    };

    [Theory]
    [MemberData(nameof(BadFilters))]
    public async Task Should_answer_400_naming_a_bad_filter(string query, string field)
    {
        var answer = await fx.GetAsync("/v1/entities/acme/audit" + query);
        Assert.True(answer.Status == HttpStatusCode.BadRequest, $"{query}: {(int)answer.Status} {answer.Text}");
        Assert.NotEmpty(ApiFixture.ErrorsOf(answer.Body, field));
    }

    [Fact]
    public async Task Should_keep_rows_append_only()
    {
        var team = await NewTeamAsync();
        await CreatedAsync(team, "/queues", new { name = "gpu" });
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var ex = await Assert.ThrowsAsync<PostgresException>(() =>
            c.ExecuteAsync("update control.audit set actor = 'someone else' where entity_id = @EntityId", new { team.EntityId }));
        Assert.Contains("append-only", ex.MessageText, StringComparison.Ordinal);
        Assert.Equal(team.Admin, (await EntriesAsync(team)).Single().GetProperty("actor").GetString());
    }

    [Fact]
    public async Task Should_be_partitioned_by_time_and_dropped_with_the_history()
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal("r", await c.ExecuteScalarAsync<string>("select partstrat::text from pg_partitioned_table where partrelid = 'control.audit'::regclass"));
        Assert.Equal(TimeSpan.FromDays(12), Extensions.AuditTable.Keep(new RetentionOptions { History = TimeSpan.FromDays(12) }));
        // The Api's own maintenance (registered with AddRetention) creates the partitions ahead at start.
        await Eventually.TrueAsync(async () => await c.ExecuteScalarAsync<int>(
                "select count(*) from pg_inherits i join pg_class p on p.oid = i.inhrelid where i.inhparent = 'control.audit'::regclass and p.relname <> 'audit_default'") > 0,
            "the Api created partitions of control.audit");

        // A partition all older than a short history is dropped whole, with its rows.
        var team = await NewTeamAsync();
        var old = DateTime.UtcNow.Date.AddDays(-20);
        var partition = $"control.audit_test_{Guid.NewGuid():N}"[..40];
        await c.ExecuteAsync($"create table {partition} partition of control.audit for values from ('{old:yyyy-MM-dd}') to ('{old.AddDays(1):yyyy-MM-dd}')");
        await c.ExecuteAsync(
            "insert into control.audit (id, entity_id, at, actor, kind, action) values (gen_random_uuid(), @EntityId, @at, 'someone', 'queue', 'create')",
            new { team.EntityId, at = old.AddHours(12) });
        Assert.Single(await EntriesAsync(team));
        var maintenance = fx.Api.Services.GetRequiredService<PartitionMaintenance>();
        var rotation = await maintenance.RotateAsync(Extensions.AuditTable,
            new RetentionOptions { History = TimeSpan.FromDays(10), Interval = TimeSpan.FromDays(1), DedupeWindow = TimeSpan.FromDays(1) }, CancellationToken.None);
        Assert.NotNull(rotation);
        Assert.True(rotation.Dropped >= 1);
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from pg_class where oid::regclass::text = @partition", new { partition }));
        Assert.Empty(await EntriesAsync(team));
    }

    [Fact]
    public async Task Should_list_every_kind_and_action_the_endpoints_write()
    {
        Assert.Equal(["alert_settings", "automation", "config_apply", "integration", "job", "job_version", "key", "member", "queue", "secret", "team_automation", "webhook"], AuditKinds.All.Order());
        Assert.Equal(["apply", "create", "delete", "disable", "enable", "revoke", "update"], AuditActions.All.Order());
        var entry = await fx.GetAsync("/v1/entities/acme/audit?limit=500");
        Assert.Equal(HttpStatusCode.OK, entry.Status);
        foreach (var e in entry.Body.GetProperty("entries").EnumerateArray())
        {
            Assert.Contains(e.GetProperty("kind").GetString(), AuditKinds.All);
            Assert.Contains(e.GetProperty("action").GetString(), AuditActions.All);
        }
    }
}
