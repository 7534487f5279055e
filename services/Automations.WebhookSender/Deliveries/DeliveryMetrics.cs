using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;

namespace Automations.WebhookSender.Deliveries;

/// <summary>The sender's instruments, on the product's one Meter ("Automations").</summary>
public static class DeliveryMetrics
{
    private static readonly Counter<long> Attempts = Telemetry.Meter.CreateCounter<long>("automations.deliveries",
        description: "Webhook delivery attempts by outcome (Succeeded, Retry, Failed, Gone)");
    private static readonly Histogram<double> Duration = Telemetry.Meter.CreateHistogram<double>("automations.delivery.duration", unit: "ms",
        description: "Duration of one webhook attempt, by outcome");
    private static readonly Histogram<double> EventToDelivery = Telemetry.Meter.CreateHistogram<double>("automations.event_to_delivery.latency", unit: "ms",
        description: "From the command's occurredAt to the successful webhook response");
    private static long _backlog;

    static DeliveryMetrics() =>
        Telemetry.Meter.CreateObservableGauge("automations.deliveries.backlog", () => Volatile.Read(ref _backlog),
            description: "Deliveries pending (due now or waiting for a retry), as last counted by the scheduler");

    public static void Attempt(DeliveryStore.Outcome outcome, double durationMs)
    {
        var tag = new KeyValuePair<string, object?>("outcome", outcome.ToString());
        Attempts.Add(1, tag);
        Duration.Record(durationMs, tag);
    }

    public static void Delivered(DateTimeOffset occurredAt) =>
        EventToDelivery.Record(Math.Max(0, (DateTimeOffset.UtcNow - occurredAt).TotalMilliseconds));

    public static void Backlog(long pending) => Volatile.Write(ref _backlog, pending);
}
