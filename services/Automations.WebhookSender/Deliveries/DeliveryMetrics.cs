using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;

namespace Automations.WebhookSender.Deliveries;

/// <summary>The sender's instruments, on the host's "Automations" meter (the factory gives every caller the same one).</summary>
public sealed class DeliveryMetrics
{
    private readonly Counter<long> _attempts;
    private readonly Histogram<double> _duration;
    private readonly Histogram<double> _eventToDelivery;
    private readonly Counter<long> _incidents;
    private long _backlog;
    private long _openIncidents;
    private Func<long> _held = () => 0;
    private Func<long> _heldBytes = () => 0;

    public DeliveryMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(Telemetry.Name);
        _attempts = meter.CreateCounter<long>("automations.deliveries", description: "Webhook delivery attempts by outcome (Succeeded, Retry, Failed, Gone)");
        _duration = meter.CreateHistogram<double>("automations.delivery.duration", unit: "ms", description: "Duration of one webhook attempt, by outcome");
        _eventToDelivery = meter.CreateHistogram<double>("automations.event_to_delivery.latency", unit: "ms",
            description: "From the command's occurredAt to the successful webhook response");
        _incidents = meter.CreateCounter<long>("automations.webhook_incidents", description: "Incident changes of failing webhooks (tag change = opened, recovered, disabled)");
        meter.CreateObservableGauge("automations.webhook_incidents.open", () => Volatile.Read(ref _openIncidents),
            description: "Incidents open (webhooks failing past the team's threshold), as last counted by the scheduler");
        // Observed, so created here: its callback reads this instance.
        meter.CreateObservableGauge("automations.deliveries.backlog", () => Volatile.Read(ref _backlog),
            description: "Deliveries pending (due now or waiting for a retry), as last counted by the scheduler");
        meter.CreateObservableGauge("automations.deliveries.held", () => _held(),
            description: "Deliveries this process holds (waiting for a request slot, sending or recording); at most Webhooks:MaxHeldDeliveries");
        meter.CreateObservableGauge("automations.deliveries.held_payload", () => _heldBytes(), unit: "By",
            description: "Payload bytes held by deliveries taken from commands; at most Webhooks:MaxHeldPayloadBytes");
    }

    /// <summary>The dispatcher's holds, read when the gauges are observed.</summary>
    public void ObserveHolds(Func<long> held, Func<long> heldBytes) => (_held, _heldBytes) = (held, heldBytes);

    public void Attempt(DeliveryStore.Outcome outcome, double durationMs)
    {
        var tag = new KeyValuePair<string, object?>("outcome", outcome.ToString());
        _attempts.Add(1, tag);
        _duration.Record(durationMs, tag);
    }

    public void Delivered(DateTimeOffset occurredAt) =>
        _eventToDelivery.Record(Math.Max(0, (DateTimeOffset.UtcNow - occurredAt).TotalMilliseconds));

    public void Backlog(long pending) => Volatile.Write(ref _backlog, pending);

    public void OpenIncidents(long open) => Volatile.Write(ref _openIncidents, open);

    public void Incident(string change) => _incidents.Add(1, new KeyValuePair<string, object?>("change", change));
}
