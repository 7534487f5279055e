using System.Net;
using System.Text;
using System.Text.Json;
using Automations.Api.ProjectAutomations;

namespace Automations.WebhookSender.Tests;

/// <summary>
/// A webhook test carries at most what a saved automation may (<see cref="AutomationValidator.MaxPayloadLength"/>
/// characters): a larger payload is a 400 naming `payload` before anything goes over the bus, and a body beyond the
/// Api's request limit a 413, both problem+json.
/// </summary>
[Trait("Category", "Security")]
public class Limiting_webhook_test_payloads(ApiAndSenderFixture fx) : IClassFixture<ApiAndSenderFixture>
{
    private static string PayloadOf(int characters)
    {
        const string head = """{"big":""", tail = "}";
        return head + "\"" + new string('x', characters - head.Length - tail.Length - 2) + "\"" + tail;
    }

    [Fact]
    public async Task Should_send_a_payload_of_the_saved_limit()
    {
        var path = "/limit-ok/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        using var response = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/test", PayloadOf(AutomationValidator.MaxPayloadLength));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(AutomationValidator.MaxPayloadLength, Assert.Single(fx.Receiver.On(path)).Body.Length);
    }

    [Fact]
    public async Task Should_refuse_a_larger_payload_naming_it_and_send_nothing()
    {
        var path = "/limit-over/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        using var response = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/test", PayloadOf(AutomationValidator.MaxPayloadLength + 1));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(AutomationValidator.MaxPayloadLength.ToString(System.Globalization.CultureInfo.InvariantCulture),
            problem.RootElement.GetProperty("errors").GetProperty("payload")[0].GetString(), StringComparison.Ordinal);
        Assert.Empty(fx.Receiver.On(path));
    }

    [Fact]
    public async Task Should_answer_413_to_a_ten_megabyte_body_and_send_nothing()
    {
        var path = "/limit-huge/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        // Expect: 100-continue, as clients sending large bodies do: Kestrel answers before the body is sent (a client that
        // sends it all anyway has its connection closed after the 413).
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/test")
        {
            Content = new StringContent(PayloadOf(10 * 1024 * 1024), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", fx.AdminKey);
        request.Headers.ExpectContinue = true;
        using var response = await fx.Api.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(fx.Receiver.On(path));
    }

    [Fact]
    public async Task Should_count_characters_not_bytes()
    {
        var path = "/limit-chars/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var payload = PayloadOf(AutomationValidator.MaxPayloadLength).Replace('x', 'é');
        Assert.True(Encoding.UTF8.GetByteCount(payload) > AutomationValidator.MaxPayloadLength);
        using var response = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/test", payload);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
