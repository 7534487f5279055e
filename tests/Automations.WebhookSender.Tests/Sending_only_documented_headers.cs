using System.Net;
using Automations.Testing;

namespace Automations.WebhookSender.Tests;

/// <summary>
/// What a third party receives: exactly the headers docs/webhooks.md lists, for a delivery and for a webhook test asked
/// through the Api. Nothing internal rides along (MassTransit's conversation id in `baggage`, .NET's pre-W3C
/// `Correlation-Context` and `Request-Id`), while `traceparent` still joins the receiver to the event's trace.
/// </summary>
[Trait("Category", "Security")]
public class Sending_only_documented_headers(ApiAndSenderFixture fx) : IClassFixture<ApiAndSenderFixture>
{
    /// <summary>The documented headers (transport headers Host and Content-Length besides); tracestate only when the trace has one.</summary>
    private static readonly string[] Documented =
        ["Host", "Content-Length", "Content-Type", "User-Agent", "Authorization", "X-Wandb-Signature", "webhook-id", "webhook-timestamp", "webhook-signature", "traceparent"];

    [Fact]
    public async Task Should_send_a_delivery_with_the_documented_headers_only()
    {
        var path = "/headers-delivery/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path), secret: "sign-headers", accessToken: "tok-headers");
        var command = SenderFixture.Command(webhook);
        await fx.PublishAsync(command);
        await fx.WaitForStatusAsync(command.CommandId, "succeeded");

        AssertDocumentedHeadersOnly(Assert.Single(fx.Receiver.On(path)));
    }

    [Fact]
    public async Task Should_send_a_webhook_test_with_the_documented_headers_only()
    {
        var path = "/headers-test/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path), secret: "sign-headers", accessToken: "tok-headers");
        using var response = await fx.SendAsync(HttpMethod.Post, $"/v1/entities/acme/webhooks/{webhook}/test", """{"hello":"world"}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        AssertDocumentedHeadersOnly(Assert.Single(fx.Receiver.On(path)));
    }

    private static void AssertDocumentedHeadersOnly(Receiver.Request sent)
    {
        var names = sent.Headers.Keys.Where(h => !h.Equals("tracestate", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.OrdinalIgnoreCase);
        Assert.Equal(Documented.Order(StringComparer.OrdinalIgnoreCase), names, StringComparer.OrdinalIgnoreCase);
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", sent.Header("traceparent"));
        Assert.Null(sent.Header("baggage"));
        Assert.Null(sent.Header("Correlation-Context"));
        Assert.Null(sent.Header("Request-Id"));
    }
}
