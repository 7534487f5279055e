using System.Security.Cryptography;
using System.Text;
using Automations.Testing;
using Dapper;
using Microsoft.AspNetCore.Http;

namespace Automations.WebhookSender.Tests;

/// <summary>
/// The sender keeps a webhook's decrypted secrets and their mask for Webhooks:ControlCacheTtl (2 s). When the Api
/// changes the signing secret and a team secret the payload names, deliveries use the new values within that time, every
/// request signed and filled in with one consistent set, and the new values are masked in what the endpoint echoes.
/// </summary>
public class Changing_a_webhooks_secrets(SenderFixture fx) : IClassFixture<SenderFixture>
{
    private static string Sign(string secret, byte[] body) => Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>Stores a new value for a secret the way the Api's PUT does.</summary>
    private async Task UpdateSecretAsync(string name, string value)
    {
        var e = fx.Cipher.Encrypt(fx.EntityId, name, value);
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await c.ExecuteAsync(
            "update control.secrets set key_id = @KeyId, nonce = @Nonce, ciphertext = @Ciphertext, tag = @Tag, updated_at = now() where entity_id = @EntityId and name = @name",
            new { e.KeyId, e.Nonce, e.Ciphertext, e.Tag, fx.EntityId, name }));
    }

    [Fact]
    public async Task Should_sign_and_fill_in_with_the_new_values_within_the_cache_ttl_and_mask_them()
    {
        var path = "/rotate/" + Guid.NewGuid().ToString("N");
        // Echoes the body it got: the attempt log must show the filled-in value masked.
        fx.Receiver.Respond(path, async (ctx, number) =>
        {
            ctx.Response.StatusCode = 200;
            await ctx.Response.WriteAsync(fx.Receiver.On(path).Single(r => r.Number == number).BodyText);
        });
        var (oldSigning, newSigning) = ("sign-old-" + Guid.NewGuid().ToString("N"), "sign-new-" + Guid.NewGuid().ToString("N"));
        var (oldValue, newValue) = ("value-old-" + Guid.NewGuid().ToString("N"), "value-new-" + Guid.NewGuid().ToString("N"));
        var name = "ROTATED_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path), secret: oldSigning);
        await fx.AddSecretAsync(name, oldValue);
        string signingName;
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            signingName = await c.ExecuteScalarAsync<string>(
                "select s.name from control.webhooks w join control.secrets s on s.id = w.secret_id where w.id = @webhook", new { webhook }) ?? "";
        var payload = "{\"v\":\"${" + name + "}\"}";

        var first = SenderFixture.Command(webhook, payload);
        await fx.PublishAsync(first);
        await fx.WaitForStatusAsync(first.CommandId, "succeeded");

        await UpdateSecretAsync(signingName, newSigning);
        await UpdateSecretAsync(name, newValue);
        await Eventually.TrueAsync(async () =>
        {
            var next = SenderFixture.Command(webhook, payload);
            await fx.PublishAsync(next);
            await fx.WaitForStatusAsync(next.CommandId, "succeeded");
            return fx.Receiver.On(path)[^1].BodyText.Contains(newValue, StringComparison.Ordinal);
        }, "a delivery carries the new value", TimeSpan.FromSeconds(30));

        var requests = fx.Receiver.On(path);
        // Each request is one set: the old signing secret with the old value, or the new with the new; once new, never old again.
        var sawNew = false;
        foreach (var r in requests)
        {
            var isNew = r.BodyText.Contains(newValue, StringComparison.Ordinal);
            Assert.True(isNew || r.BodyText.Contains(oldValue, StringComparison.Ordinal), r.BodyText);
            Assert.Equal(Sign(isNew ? newSigning : oldSigning, r.Body), r.Header("X-Wandb-Signature"));
            Assert.False(sawNew && !isNew, "an old value after a new one");
            sawNew |= isNew;
        }

        await using var db = await fx.DataSource.OpenConnectionAsync();
        var stored = string.Join("\n", await db.QueryAsync<string>(
            "select a::text from delivery.attempts a join delivery.deliveries d on d.id = a.delivery_id where d.webhook_id = @webhook", new { webhook }));
        var bodies = await db.QueryAsync<string>(
            "select a.response_body from delivery.attempts a join delivery.deliveries d on d.id = a.delivery_id where d.webhook_id = @webhook", new { webhook });
        Assert.Equal(requests.Count, bodies.Count());
        Assert.All(bodies, b => Assert.Equal("""{"v":"********"}""", b));
        foreach (var secret in new[] { oldValue, newValue, oldSigning, newSigning })
            Assert.DoesNotContain(secret, stored, StringComparison.Ordinal);
    }
}
