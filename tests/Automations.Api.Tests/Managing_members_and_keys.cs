using System.Net;
using Automations.Core.Security;
using Dapper;

namespace Automations.Api.Tests;

public class Managing_members_and_keys(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task Should_add_a_member_give_them_a_key_shown_once_and_revoke_it()
    {
        var user = Unique("dana");
        var added = await fx.PostAsync("/v1/entities/acme/members", new { user, role = "member", email = "dana@example.com" });
        Assert.Equal(HttpStatusCode.Created, added.Status);
        Assert.Contains((await fx.GetAsync("/v1/entities/acme/members", fx.MemberKey)).Body.EnumerateArray(),
            m => m.GetProperty("user").GetString() == user && m.GetProperty("role").GetString() == "member");

        var created = await fx.PostAsync("/v1/entities/acme/keys", new { name = "dana laptop", scopes = new[] { "api" }, user });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var key = created.Body.GetProperty("key").GetString()!;
        var keyId = created.Body.GetProperty("id").GetGuid();
        Assert.StartsWith(ApiKeys.Prefix, key, StringComparison.Ordinal);

        var list = await fx.GetAsync("/v1/entities/acme/keys");
        Assert.DoesNotContain(key, list.Text, StringComparison.Ordinal);
        var listed = list.Body.EnumerateArray().Single(k => k.GetProperty("id").GetGuid() == keyId);
        Assert.Equal(user, listed.GetProperty("user").GetString());
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(ApiKeys.Hash(key), await c.ExecuteScalarAsync<string>("select key_hash from control.api_keys where id = @keyId", new { keyId }));

        // The member's key acts with the member role: reads, but no admin action.
        Assert.Equal(HttpStatusCode.OK, (await fx.GetAsync("/v1/entities/acme/webhooks", key)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.GetAsync("/v1/entities/acme/secrets", key)).Status);
        // Promoted, the same key acts as an admin.
        Assert.Equal(HttpStatusCode.OK, (await fx.PostAsync("/v1/entities/acme/members", new { user, role = "admin" })).Status);
        Assert.Equal(HttpStatusCode.OK, (await fx.GetAsync("/v1/entities/acme/secrets", key)).Status);

        var used = (await fx.GetAsync("/v1/entities/acme/keys")).Body.EnumerateArray().Single(k => k.GetProperty("id").GetGuid() == keyId);
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, used.GetProperty("lastUsedAt").ValueKind);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.DeleteAsync($"/v1/entities/acme/keys/{keyId}")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.GetAsync("/v1/entities/acme/webhooks", key)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.DeleteAsync($"/v1/entities/globex/keys/{keyId}", fx.OtherEntityKey)).Status);
    }

    [Fact]
    public async Task Should_tell_a_key_who_it_is()
    {
        var admin = await fx.GetAsync("/v1/me", fx.AdminKey);
        Assert.Equal(HttpStatusCode.OK, admin.Status);
        Assert.Equal("acme", admin.Body.GetProperty("entity").GetString());
        Assert.Equal("alice", admin.Body.GetProperty("user").GetString());
        Assert.Equal("admin", admin.Body.GetProperty("role").GetString());
        Assert.Contains("api", admin.Body.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.DoesNotContain(fx.AdminKey, admin.Text, StringComparison.Ordinal);

        var member = await fx.GetAsync("/v1/me", fx.MemberKey);
        Assert.Equal(("bob", "member"), (member.Body.GetProperty("user").GetString(), member.Body.GetProperty("role").GetString()));
        Assert.Equal("globex", (await fx.GetAsync("/v1/me", fx.OtherEntityKey)).Body.GetProperty("entity").GetString());
        // A producer key learns its team and scopes, and that it is no member (no role).
        var producer = await fx.GetAsync("/v1/me", fx.ProducerKey);
        Assert.False(producer.Body.TryGetProperty("role", out var role) && role.ValueKind != System.Text.Json.JsonValueKind.Null);
        Assert.DoesNotContain("api", producer.Body.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));

        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.GetAsync("/v1/me", fx.RevokedKey)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.GetAsync("/v1/me", "not-a-key")).Status);
    }

    [Fact]
    public async Task Should_create_producer_and_agent_keys_that_cannot_use_the_control_plane()
    {
        var producer = await fx.PostAsync("/v1/entities/acme/keys", new { name = "registry", scopes = new[] { "events:write" } });
        var agent = await fx.PostAsync("/v1/entities/acme/keys", new { name = "agent-1", scopes = new[] { "queues:agent" } });
        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created), (producer.Status, agent.Status));
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.GetAsync("/v1/entities/acme/webhooks", producer.Body.GetProperty("key").GetString())).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await fx.GetAsync("/v1/entities/acme/queues", agent.Body.GetProperty("key").GetString())).Status);
    }

    public static TheoryData<string, string, string> InvalidKeys() => new()
    {
        { """{"scopes":["events:write"]}""", "name", "required" },
        { """{"name":"k"}""", "scopes", "at least one" },
        { """{"name":"k","scopes":["root"]}""", "scopes", "'root' is not a scope" },
        { """{"name":"k","scopes":["api"]}""", "user", "acts as a person" },
        { """{"name":"k","scopes":["api"],"user":"carol"}""", "user", "not a member of this entity" },
        { """{"name":"evil\u0000key","scopes":["events:write"]}""", "name", "NUL" },
    };

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task Should_answer_400_for_a_key_naming_the_field(string body, string field, string message)
    {
        var r = await fx.PostAsync("/v1/entities/acme/keys", body);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(ApiFixture.ErrorsOf(r.Body, field), e => e.Contains(message, StringComparison.Ordinal));
    }

    public static TheoryData<string, string, string> InvalidMembers() => new()
    {
        { """{"role":"member"}""", "user", "required" },
        { """{"user":"has space","role":"member"}""", "user", "letters, digits" },
        { """{"user":"eve","role":"owner"}""", "role", "admin or member" },
        { """{"user":"eve","role":"member","email":"eve\u0000@example.com"}""", "email", "NUL" },
    };

    [Theory]
    [MemberData(nameof(InvalidMembers))]
    public async Task Should_answer_400_for_a_member_naming_the_field(string body, string field, string message)
    {
        var r = await fx.PostAsync("/v1/entities/acme/members", body);
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(ApiFixture.ErrorsOf(r.Body, field), e => e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_keep_the_last_admin_and_revoke_a_removed_members_keys()
    {
        var demote = await fx.PostAsync("/v1/entities/globex/members", new { user = "carol", role = "member" }, fx.OtherEntityKey);
        Assert.Equal(HttpStatusCode.Conflict, demote.Status);
        Assert.Equal(HttpStatusCode.Conflict, (await fx.DeleteAsync("/v1/entities/globex/members/carol", fx.OtherEntityKey)).Status);

        var user = Unique("temp");
        await fx.PostAsync("/v1/entities/acme/members", new { user, role = "member" });
        var key = (await fx.PostAsync("/v1/entities/acme/keys", new { name = "temp", scopes = new[] { "api" }, user })).Body.GetProperty("key").GetString();
        Assert.Equal(HttpStatusCode.OK, (await fx.GetAsync("/v1/entities/acme/queues", key)).Status);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.DeleteAsync($"/v1/entities/acme/members/{user}")).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fx.GetAsync("/v1/entities/acme/queues", key)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.DeleteAsync($"/v1/entities/acme/members/{user}")).Status);
    }

    [Fact]
    public async Task Should_serve_the_openapi_document()
    {
        var doc = await fx.GetAsync("/openapi/v1.json", key: "");
        Assert.Equal(HttpStatusCode.OK, doc.Status);
        var paths = doc.Body.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/v1/entities/{entity}/projects/{project}/automations", out _));
        Assert.True(paths.TryGetProperty("/v1/entities/{entity}/secrets/{name}", out _));
    }
}
