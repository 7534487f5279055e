using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Testing;

namespace Automations.EndToEnd.Tests;

/// <summary>
/// A producer (an events:write key, nothing more) writes event metadata that, next to other values or to the
/// template's own text, spells a secret reference. Through Ingestion, Rules and the sender, the receiver must get that
/// text as it is, never the secret's value; a reference the automation's author wrote is still filled in.
/// </summary>
[Trait("Category", "Security")]
public class Forging_a_secret_reference_in_an_event(PipelineFixture fx) : IClassFixture<PipelineFixture>
{
    [Fact]
    public async Task Should_send_the_forged_text_and_not_the_secret()
    {
        using var api = fx.ApiClient();
        var secret = "forged-" + Guid.NewGuid().ToString("N");
        var legit = "legit-" + Guid.NewGuid().ToString("N");
        (await api.PostAsJsonAsync("/v1/entities/acme/secrets", new { name = "SOME_SECRET", value = secret })).EnsureSuccessStatusCode();
        (await api.PostAsJsonAsync("/v1/entities/acme/secrets", new { name = "AUTHOR_SECRET", value = legit })).EnsureSuccessStatusCode();
        const string path = "/forged/hook";
        using (var webhook = await api.PostAsJsonAsync("/v1/entities/acme/webhooks", new { name = "forged", url = new Uri(fx.Receiver.BaseAddress, path).ToString() }))
            Assert.True(webhook.IsSuccessStatusCode, await webhook.Content.ReadAsStringAsync());
        const string payload = """
            {"adj":"${artifact_metadata.head}${artifact_metadata.tail}",
             "text":"${artifact_metadata.head}{SOME_SECRET}",
             "${artifact_metadata.head}${artifact_metadata.tail}":"as a key",
             "nested":[{"deep":"x${artifact_metadata.head}${artifact_metadata.tail}y"}],
             "author":"${AUTHOR_SECRET}"}
            """;
        using (var automation = await api.PostAsJsonAsync("/v1/entities/acme/projects/forged/automations", new
        {
            name = "forged-on-create",
            @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" },
            action = new { type = "webhook", webhook = "forged", payload },
        }))
            Assert.True(automation.IsSuccessStatusCode, await automation.Content.ReadAsStringAsync());

        using var key = await api.PostAsJsonAsync("/v1/entities/acme/keys", new { name = "registry", scopes = new[] { "events:write" } });
        Assert.True(key.IsSuccessStatusCode, await key.Content.ReadAsStringAsync());
        var producerKey = (await key.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events")
        {
            Content = JsonContent.Create(new
            {
                eventId = Guid.NewGuid().ToString(), eventType = "CREATE_ARTIFACT", entity = "acme", project = "forged", collection = "eval-set",
                versionIndex = 1, occurredAt = DateTimeOffset.UtcNow, metadata = new { head = "$", tail = "{SOME_SECRET}" },
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", producerKey);
        using (var accepted = await fx.Ingestion.Client.SendAsync(request))
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);

        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count > 0), "the webhook reaches the receiver", TimeSpan.FromSeconds(60));
        var body = fx.Receiver.On(path)[0].BodyText;
        Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        Assert.Equal("${SOME_SECRET}", root.GetProperty("adj").GetString());
        Assert.Equal("${SOME_SECRET}", root.GetProperty("text").GetString());
        Assert.Equal("as a key", root.GetProperty("${SOME_SECRET}").GetString());
        Assert.Equal("x${SOME_SECRET}y", root.GetProperty("nested")[0].GetProperty("deep").GetString());
        Assert.Equal(legit, root.GetProperty("author").GetString());
    }
}
