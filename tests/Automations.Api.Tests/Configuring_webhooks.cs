using System.Net;
using MassTransit;

namespace Automations.Api.Tests;

public class Configuring_webhooks(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private const string Webhooks = "/v1/entities/acme/webhooks";

    private static string Unique(string prefix) => prefix + "-" + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task Should_create_read_update_and_delete_a_webhook_with_secret_names()
    {
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync("/v1/entities/acme/secrets", new { name = "GH_SIGN", value = "sign-value" })).Status);
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync("/v1/entities/acme/secrets", new { name = "GH_TOKEN", value = "token-value" })).Status);
        var name = Unique("github dispatch");
        var created = await fx.PostAsync(Webhooks, new { name, url = "https://api.github.com/repos/acme/ml/dispatches", secret = "GH_SIGN", accessToken = "GH_TOKEN" });
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var id = created.Body.GetProperty("id").GetGuid();
        Assert.Equal(("GH_SIGN", "GH_TOKEN", false), (created.Body.GetProperty("secret").GetString(), created.Body.GetProperty("accessToken").GetString(), created.Body.GetProperty("disabled").GetBoolean()));

        var asMember = await fx.GetAsync($"{Webhooks}/{id}", fx.MemberKey);
        Assert.Equal(HttpStatusCode.OK, asMember.Status);
        Assert.Equal("https://api.github.com/repos/acme/ml/dispatches", asMember.Body.GetProperty("url").GetString());
        Assert.Contains((await fx.GetAsync(Webhooks, fx.MemberKey)).Body.EnumerateArray(), w => w.GetProperty("id").GetGuid() == id);

        var updated = await fx.PutAsync($"{Webhooks}/{id}", new { name, url = "http://hooks.example.com:9/hook" });
        Assert.Equal(HttpStatusCode.OK, updated.Status);
        Assert.Equal("http://hooks.example.com:9/hook", updated.Body.GetProperty("url").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, updated.Body.GetProperty("secret").ValueKind);

        Assert.Equal(HttpStatusCode.NoContent, (await fx.DeleteAsync($"{Webhooks}/{id}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await fx.GetAsync($"{Webhooks}/{id}")).Status);
    }

    [Fact]
    public async Task Should_answer_409_for_a_name_taken()
    {
        var name = Unique("slack");
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync(Webhooks, new { name, url = "https://hooks.slack.com/a" })).Status);
        var again = await fx.PostAsync(Webhooks, new { name, url = "https://hooks.slack.com/b" });
        Assert.Equal(HttpStatusCode.Conflict, again.Status);
        Assert.Equal("name", again.Body.GetProperty("field").GetString());
    }

    public static TheoryData<string?, string?, string?, string, string> InvalidWebhooks() => new()
    {
        // name, url, secret, field, message
        { null, "https://example.com/", null, "name", "required" },
        { new string('a', 65), "https://example.com/", null, "name", "at most 64" },
        { "bad/name", "https://example.com/", null, "name", "letters, digits" },
        { "dot.name", "https://example.com/", null, "name", "letters, digits" },
        { "ok", null, null, "url", "required" },
        { "ok", "ftp://example.com/", null, "url", "scheme" },
        { "ok", "https://user:pw@example.com/", null, "url", "user info" },
        { "ok", "http://10.0.0.1/", null, "url", "IP address literal" },
        { "ok", "http://0x0a000001/", null, "url", "IP address literal" },
        { "ok", "http://167772161/", null, "url", "IP address literal" },
        { "ok", "http://012.0.0.1/", null, "url", "IP address literal" },
        { "ok", "http://[2001:db8::1]/", null, "url", "IP address literal" },
        { "ok", "http://[::ffff:10.0.0.1]/", null, "url", "IP address literal" },
        { "ok", "https://example.com/", "NO_SUCH_SECRET", "secret", "no secret named" },
    };

    [Theory]
    [MemberData(nameof(InvalidWebhooks))]
    public async Task Should_answer_400_naming_the_field(string? name, string? url, string? secret, string field, string message)
    {
        var r = await fx.PostAsync(Webhooks, new { name, url, secret });
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(ApiFixture.ErrorsOf(r.Body, field), e => e.Contains(message, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("limit=abc", "limit")]
    [InlineData("limit=99999999999", "limit")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=-1", "limit")]
    [InlineData("status=a%00b", "status")]
    public async Task Should_answer_400_naming_a_bad_parameter_of_the_delivery_history(string query, string parameter)
    {
        var hook = (await fx.PostAsync(Webhooks, new { name = "paged " + Guid.NewGuid().ToString("N")[..6], url = "https://example.com/hook" })).Body.GetProperty("id").GetGuid();
        var r = await fx.GetAsync($"{Webhooks}/{hook}/deliveries?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.NotEmpty(ApiFixture.ErrorsOf(r.Body, parameter));
    }

    [Fact]
    public async Task Should_refuse_an_unknown_access_token_name()
    {
        var r = await fx.PostAsync(Webhooks, new { name = "x", url = "https://example.com/", accessToken = "NOPE" });
        Assert.Equal(HttpStatusCode.BadRequest, r.Status);
        Assert.Contains(ApiFixture.ErrorsOf(r.Body, "accessToken"), e => e.Contains("no secret named 'NOPE'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_refuse_to_delete_a_webhook_an_automation_uses_naming_it()
    {
        var hook = Unique("in use");
        var created = await fx.PostAsync(Webhooks, new { name = hook, url = "https://example.com/hook" });
        var automation = Unique("uses hook");
        Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync("/v1/entities/acme/projects/mnist/automations", new
        {
            name = automation,
            @event = new { type = "ADD_ARTIFACT_ALIAS", aliasRegex = "^prod$" },
            action = new { type = "webhook", webhook = hook, payload = """{"a":"${alias}"}""" },
        })).Status);
        var refused = await fx.DeleteAsync($"{Webhooks}/{created.Body.GetProperty("id").GetGuid()}");
        Assert.Equal(HttpStatusCode.Conflict, refused.Status);
        Assert.Contains($"mnist/{automation}", refused.Body.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}

public class Showing_a_webhook_the_sender_disabled(ApiFixture fx) : IClassFixture<ApiFixture>
{
    [Fact]
    public async Task Should_show_it_disabled_until_an_admin_saves_it_again()
    {
        var created = await fx.PostAsync("/v1/entities/acme/webhooks", new { name = "gone", url = "https://gone.example.com/" });
        var id = created.Body.GetProperty("id").GetGuid();
        var bus = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<MassTransit.IBus>(fx.Api.Services);
        var message = new Automations.Contracts.WebhookDisabled(id, "acme", "410 Gone from https://gone.example.com/", DateTimeOffset.UtcNow);
        var messageId = Guid.NewGuid();
        // The same message twice (a redelivery): one effect.
        await bus.Publish(message, ctx => ctx.MessageId = messageId);
        await bus.Publish(message, ctx => ctx.MessageId = messageId);

        await Automations.Testing.Eventually.TrueAsync(async () => (await fx.GetAsync($"/v1/entities/acme/webhooks/{id}")).Body.GetProperty("disabled").GetBoolean(),
            "the Api shows the webhook disabled");
        var shown = await fx.GetAsync($"/v1/entities/acme/webhooks/{id}");
        Assert.Equal("410 Gone from https://gone.example.com/", shown.Body.GetProperty("disabledReason").GetString());

        var saved = await fx.PutAsync($"/v1/entities/acme/webhooks/{id}", new { name = "gone", url = "https://back.example.com/" });
        Assert.False(saved.Body.GetProperty("disabled").GetBoolean());
        Assert.True(saved.Body.GetProperty("updatedAt").GetDateTimeOffset() > shown.Body.GetProperty("disabledAt").GetDateTimeOffset()); // lifts the sender's state
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await Dapper.SqlMapper.ExecuteScalarAsync<int>(c, "select count(*) from control.inbox where message_id = @messageId", new { messageId }));
    }
}
