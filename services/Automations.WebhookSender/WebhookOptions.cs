using Automations.Core.Webhooks;

namespace Automations.WebhookSender;

/// <summary>Configuration section "Webhooks".</summary>
public sealed class WebhookOptions
{
    public const string UserAgent = WebhookHeaders.UserAgent;

    /// <summary>Comma-separated CIDRs the SSRF guard lets through (empty: public addresses only).</summary>
    public string? AllowedCidrs { get; set; }
    /// <summary>Delays between attempts, comma-separated TimeSpans; empty gives 5s, 5m, 30m, 2h, 5h, 10h, 10h.</summary>
    public string? RetrySchedule { get; set; }
    public double RetryJitter { get; set; } = 0.2;
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>Upper bound for a Retry-After honoured on 429/503.</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromHours(10);
    public int MaxConcurrencyPerWebhook { get; set; } = 32;
    /// <summary>Requests in flight in this process, all webhooks together.</summary>
    public int MaxConcurrency { get; set; } = 256;
    /// <summary>Deliveries this process holds at once (waiting for a request slot, sending, recording); 0: MaxConcurrency × 4.</summary>
    public int MaxHeldDeliveries { get; set; }
    public int HeldDeliveries => MaxHeldDeliveries > 0 ? MaxHeldDeliveries : MaxConcurrency * 4;
    /// <summary>
    /// The payloads held in memory by deliveries taken straight from commands, together (UTF-16 bytes): past it the
    /// consumer waits and further commands stay in the broker. A single larger payload still goes, alone.
    /// </summary>
    public long MaxHeldPayloadBytes { get; set; } = 16 * 1024 * 1024;
    /// <summary>
    /// Fresh commands this process sends while it still holds their broker message (0: none). Such a delivery is stored
    /// once, with its first attempt's outcome, instead of stored claimed and then moved on: one commit and one row
    /// version less per event. Only a command whose webhook and process have a request slot free at once goes this
    /// way, so a hanging endpoint holds at most this many broker messages (and its webhook's slots) for at most
    /// <see cref="Timeout"/>. Keep it below the prefetch (RabbitMq:PrefetchCount) so commands for other webhooks flow.
    /// </summary>
    public int MaxInlineAttempts { get; set; } = 8;
    /// <summary>How long a claimed delivery stays invisible to other replicas' schedulers (beyond the timeout).</summary>
    public TimeSpan ClaimMargin { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan SchedulerInterval { get; set; } = TimeSpan.FromMilliseconds(500);
    public int SchedulerBatchSize { get; set; } = 100;

    /// <summary>
    /// How much of a response body is kept (attempt log, webhook test), after secret values are masked; a longer body
    /// is cut on a character boundary and marked truncated.
    /// </summary>
    public int MaxResponseBodyBytes { get; set; } = 16 * 1024;

    /// <summary>
    /// How long what the sender loads for a webhook (control row, disabled state, decrypted secrets, masks) is reused
    /// between attempts: an edit in the Api reaches deliveries within it.
    /// </summary>
    public TimeSpan ControlCacheTtl { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a webhook host's resolved addresses are reused (the SSRF guard checks them on every request all the
    /// same); zero looks the name up for every request.
    /// </summary>
    public TimeSpan DnsCacheTtl { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan Lease => Timeout + ClaimMargin;

    public RetrySchedule Schedule() => Core.Webhooks.RetrySchedule.Parse(RetrySchedule, RetryJitter);
}
