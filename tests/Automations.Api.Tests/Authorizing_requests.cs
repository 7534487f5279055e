using System.Net;

namespace Automations.Api.Tests;

/// <summary>
/// The authorization matrix: every route of the control plane, called by no key, a revoked key, another entity's admin,
/// an agent key (no api scope), a member and an admin. Writes send an empty body, so an allowed caller gets 400 (its
/// request reached validation) and nothing is created.
/// </summary>
public class Authorizing_requests(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private static readonly string Id = Guid.NewGuid().ToString();

    public static TheoryData<string, string, bool> Routes() => new()
    {
        // method, path under /v1/entities/acme, admin only
        { "GET", "/members", false },
        { "POST", "/members", true },
        { "DELETE", "/members/nobody", true },
        { "GET", "/keys", true },
        { "POST", "/keys", true },
        { "DELETE", $"/keys/{Id}", true },
        { "GET", "/secrets", true },
        { "POST", "/secrets", true },
        { "PUT", "/secrets/NOPE", true },
        { "DELETE", "/secrets/NOPE", true },
        { "GET", "/webhooks", false },
        { "GET", $"/webhooks/{Id}", false },
        { "POST", "/webhooks", true },
        { "PUT", $"/webhooks/{Id}", true },
        { "DELETE", $"/webhooks/{Id}", true },
        { "GET", "/projects/mnist/automations", false },
        { "POST", "/projects/mnist/automations", false },
        { "GET", $"/projects/mnist/automations/{Id}", false },
        { "PUT", $"/projects/mnist/automations/{Id}", false },
        { "DELETE", $"/projects/mnist/automations/{Id}", false },
        { "POST", $"/projects/mnist/automations/{Id}/enable", false },
        { "POST", $"/projects/mnist/automations/{Id}/disable", false },
        { "GET", "/queues", false },
        { "GET", $"/queues/{Id}", false },
        { "POST", "/queues", true },
        { "PUT", $"/queues/{Id}", true },
        { "DELETE", $"/queues/{Id}", true },
        { "GET", "/jobs", false },
        { "GET", $"/jobs/{Id}", false },
        { "POST", "/jobs", false },
        { "PUT", $"/jobs/{Id}", false },
        { "DELETE", $"/jobs/{Id}", true },
        { "POST", $"/jobs/{Id}/versions", false },
        { "GET", $"/jobs/{Id}/versions/1", false },
    };

    private Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body, string Text)> Call(string method, string path, string? key) =>
        fx.CallAsync(new HttpMethod(method), "/v1/entities/acme" + path, method is "POST" or "PUT" ? "{}" : null, key);

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Should_answer_401_without_a_key_or_with_a_revoked_one(string method, string path, bool adminOnly)
    {
        _ = adminOnly;
        using var raw = await ApiFixture.SendAsync(fx.Api.Client, new HttpMethod(method), "/v1/entities/acme" + path, null, key: null);
        var revoked = await Call(method, path, fx.RevokedKey);
        var bogus = await Call(method, path, "ak_not-a-key");
        Assert.Equal(HttpStatusCode.Unauthorized, raw.StatusCode);
        Assert.Equal("application/problem+json", raw.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, revoked.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, bogus.Status);
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Should_answer_404_to_another_entity_without_revealing_anything(string method, string path, bool adminOnly)
    {
        _ = adminOnly;
        var other = await Call(method, path, fx.OtherEntityKey);
        Assert.Equal(HttpStatusCode.NotFound, other.Status);
        Assert.Equal("The entity does not exist.", other.Body.GetProperty("detail").GetString());
        var missing = await fx.CallAsync(new HttpMethod(method), "/v1/entities/no-such-team" + path, method is "POST" or "PUT" ? "{}" : null, fx.AdminKey);
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal("The entity does not exist.", missing.Body.GetProperty("detail").GetString());
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Should_answer_403_to_producer_and_agent_keys(string method, string path, bool adminOnly)
    {
        _ = adminOnly;
        Assert.Equal(HttpStatusCode.Forbidden, (await Call(method, path, fx.AgentKey)).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await Call(method, path, fx.ProducerKey)).Status);
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Should_let_a_member_only_where_members_may(string method, string path, bool adminOnly)
    {
        var member = await Call(method, path, fx.MemberKey);
        if (adminOnly)
        {
            Assert.Equal(HttpStatusCode.Forbidden, member.Status);
            Assert.Contains("admin", member.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        else AssertReachedTheHandler(method, member);
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Should_let_an_admin_everywhere(string method, string path, bool adminOnly)
    {
        _ = adminOnly;
        AssertReachedTheHandler(method, await Call(method, path, fx.AdminKey));
    }

    private static void AssertReachedTheHandler(string method, (HttpStatusCode Status, System.Text.Json.JsonElement Body, string Text) r)
    {
        Assert.NotEqual(HttpStatusCode.Unauthorized, r.Status);
        Assert.NotEqual(HttpStatusCode.Forbidden, r.Status);
        if (r.Status == HttpStatusCode.NotFound)
            Assert.DoesNotContain("The entity", r.Body.GetProperty("detail").GetString(), StringComparison.Ordinal); // the resource, not the entity
        else if (method is "POST" or "PUT")
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        else
            Assert.Equal(HttpStatusCode.OK, r.Status);
    }

    [Fact]
    public async Task Should_not_show_one_entitys_resource_through_another_entitys_path()
    {
        var created = await fx.PostAsync("/v1/entities/acme/queues", new { name = "gpu-" + Guid.NewGuid().ToString("N")[..6] });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body.GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.OK, (await fx.GetAsync($"/v1/entities/acme/queues/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"/v1/entities/acme/queues/{id}", fx.OtherEntityKey)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"/v1/entities/globex/queues/{id}", fx.OtherEntityKey)).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.DeleteAsync($"/v1/entities/globex/queues/{id}", fx.OtherEntityKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await fx.GetAsync($"/v1/entities/acme/queues/{id}")).Status);
    }
}
