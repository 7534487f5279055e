using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Automations.Testing;
using Dapper;
using Microsoft.AspNetCore.Http;

namespace Automations.WebhookSender.Tests;

/// <summary>
/// An endpoint that echoes the request (headers and body, as JSON and as Basic auth) puts the access token, the signing
/// secret and every rendered secret into its answer. What the sender stores, what the Api shows a member and what a
/// webhook test returns hold `********` in their place, in every encoding the echo used.
/// </summary>
[Trait("Category", "Security")]
public class Reading_what_an_echoing_endpoint_answered(ApiAndSenderFixture fx) : IClassFixture<ApiAndSenderFixture>
{
    private sealed record Secrets(string Token, string Signing, string Value)
    {
        // Each secret carries a random part that no encoding but base64 changes: finding it anywhere is a leak.
        public static Secrets New() => new("tok-" + Guid.NewGuid().ToString("N"), "sign-" + Guid.NewGuid().ToString("N"), "val\"ue-" + Guid.NewGuid().ToString("N"));

        public IEnumerable<string> Leaks()
        {
            foreach (var s in new[] { Token, Signing, Value }) yield return s[(s.IndexOf('-', StringComparison.Ordinal) + 1)..];
            yield return Convert.ToBase64String(Encoding.UTF8.GetBytes("user:" + Token))[8..];
        }
    }

    /// <summary>Answers <paramref name="status"/> with every request header (and Basic auth of the bearer token) as response headers, and a JSON echo of headers and body, as httpbin does.</summary>
    private static Receiver.Responder Echo(int status, int padding = 0) => async (ctx, _) =>
    {
        using var reader = new StreamReader(ctx.Request.Body);
        var body = await reader.ReadToEndAsync();
        var headers = ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString());
        var token = headers.TryGetValue("Authorization", out var auth) ? auth["Bearer ".Length..] : "";
        ctx.Response.StatusCode = status;
        foreach (var (name, value) in headers) ctx.Response.Headers["X-Echo-" + name] = Uri.EscapeDataString(value);
        ctx.Response.Headers["X-Echo-Basic"] = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes("user:" + token));
        await ctx.Response.WriteAsync(new string('.', padding) + JsonSerializer.Serialize(new { headers, body, raw = body + auth }));
    };

    private async Task<Guid> WebhookAsync(string path, Secrets s, Receiver.Responder responder)
    {
        fx.Receiver.Respond(path, responder);
        await fx.AddSecretAsync("ECHO_" + path.GetHashCode().ToString("X8"), s.Value);
        return await fx.AddWebhookAsync(fx.Receiver.Url(path), secret: s.Signing, accessToken: s.Token);
    }

    private static string Payload(string path) => $$"""{"v":"${ECHO_{{path.GetHashCode().ToString("X8")}}}","n":1}""";

    private async Task<string> MemberKeyAsync()
    {
        var user = "member-" + Guid.NewGuid().ToString("N")[..8];
        (await fx.SendAsync(HttpMethod.Post, "/v1/entities/acme/members", JsonSerializer.Serialize(new { user, role = "member" }))).EnsureSuccessStatusCode();
        using var key = await fx.SendAsync(HttpMethod.Post, "/v1/entities/acme/keys", JsonSerializer.Serialize(new { name = user, scopes = new[] { "api" }, user }));
        Assert.True(key.IsSuccessStatusCode, await key.Content.ReadAsStringAsync());
        return (await key.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
    }

    private static void AssertMasked(string text, Secrets s, string what)
    {
        foreach (var leak in s.Leaks()) Assert.False(text.Contains(leak, StringComparison.Ordinal), $"{what} holds a secret ({leak}): {text}");
        Assert.Contains("********", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_mask_the_stored_attempts_and_the_members_view_of_a_delivery()
    {
        var path = "/echo/" + Guid.NewGuid().ToString("N");
        var s = Secrets.New();
        var webhook = await WebhookAsync(path, s, Echo(500));
        var command = SenderFixture.Command(webhook, Payload(path));
        await fx.PublishAsync(command);
        var delivery = await fx.WaitForStatusAsync(command.CommandId, "failed");
        Assert.Contains(s.Value["val\"ue-".Length..], fx.Receiver.On(path)[0].BodyText, StringComparison.Ordinal);

        await using (var c = await fx.DataSource.OpenConnectionAsync())
        {
            var stored = string.Join("\n", await c.QueryAsync<string>("select a::text from delivery.attempts a where delivery_id = @Id", new { delivery.Id }))
                + string.Join("\n", await c.QueryAsync<string>("select d::text from delivery.deliveries d where id = @Id", new { delivery.Id }));
            AssertMasked(stored, s, "the stored attempts");
        }

        using var view = await fx.SendAsync(HttpMethod.Get, $"/v1/entities/acme/deliveries/{delivery.Id}", key: await MemberKeyAsync());
        Assert.Equal(HttpStatusCode.OK, view.StatusCode);
        var text = await view.Content.ReadAsStringAsync();
        AssertMasked(text, s, "the member's view of the delivery");
        using var doc = JsonDocument.Parse(text);
        var attempt = doc.RootElement.GetProperty("attemptLog")[0];
        Assert.Contains("Bearer ********", attempt.GetProperty("responseBody").GetString(), StringComparison.Ordinal);
        // base64("user:" + token): the characters of "user:" stay, the token's are masked.
        Assert.Matches(@"^Basic dXNlcjp.?\*{8}.{0,3}$", attempt.GetProperty("responseHeaders").GetProperty("X-Echo-Basic").GetString());
    }

    [Fact]
    public async Task Should_mask_the_result_of_a_webhook_test()
    {
        var path = "/echo-test/" + Guid.NewGuid().ToString("N");
        var s = Secrets.New();
        var webhook = await WebhookAsync(path, s, Echo(200));
        using var response = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/test", Payload(path));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        AssertMasked(text, s, "the test result");
        using var doc = JsonDocument.Parse(text);
        Assert.True(doc.RootElement.GetProperty("success").GetBoolean());
        Assert.Contains(s.Value["val\"ue-".Length..], fx.Receiver.On(path)[0].BodyText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_cut_a_long_answer_after_masking_so_no_part_of_a_secret_is_kept()
    {
        var path = "/echo-long/" + Guid.NewGuid().ToString("N");
        var s = Secrets.New();
        // The token's echo starts a few bytes before the 16 KiB cut: masking first leaves no prefix of it behind.
        const int cap = 16 * 1024;
        var webhook = await WebhookAsync(path, s, async (ctx, _) =>
        {
            var token = ctx.Request.Headers.Authorization.ToString()["Bearer ".Length..];
            ctx.Response.StatusCode = 500;
            await ctx.Response.WriteAsync(new string('.', cap - 6) + token + new string('.', 30_000));
        });
        var command = SenderFixture.Command(webhook, Payload(path));
        await fx.PublishAsync(command);
        var delivery = await fx.WaitForStatusAsync(command.CommandId, "failed");

        using var view = await fx.SendAsync(HttpMethod.Get, $"/v1/entities/acme/deliveries/{delivery.Id}", key: await MemberKeyAsync());
        using var doc = JsonDocument.Parse(await view.Content.ReadAsStringAsync());
        var attempt = doc.RootElement.GetProperty("attemptLog")[0];
        var body = attempt.GetProperty("responseBody").GetString()!;
        Assert.True(Encoding.UTF8.GetByteCount(body) <= cap, $"{Encoding.UTF8.GetByteCount(body)} bytes stored");
        Assert.DoesNotContain("tok-", body, StringComparison.Ordinal);
        Assert.EndsWith("*", body, StringComparison.Ordinal);
        Assert.True(attempt.GetProperty("responseTruncated").GetBoolean());
    }
}
