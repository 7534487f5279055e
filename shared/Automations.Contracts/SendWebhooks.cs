namespace Automations.Contracts;

/// <summary>
/// Several <see cref="SendWebhook"/> commands in one message: what one commit of Rules made (an event's, or a small batch
/// of events' committed together), or what it committed while its last publish waited for the broker's confirm (one
/// persistent broker message and one consumer dispatch for several commands; a command that finds no other goes alone). Each item stands alone: the sender handles it exactly as the single message, which
/// Rules' outbox relay still publishes for a command no batch carried (a crash or a broker outage between commit and
/// publish), and the delivery is unique per command either way.
/// </summary>
public record SendWebhooks(IReadOnlyList<SendWebhookItem> Commands);

/// <summary>One command of a <see cref="SendWebhooks"/> batch, with the W3C traceparent of the work that made it: the
/// sender continues that trace for this command, as the single message's headers would have it do.</summary>
public record SendWebhookItem(SendWebhook Command, string? Traceparent);
