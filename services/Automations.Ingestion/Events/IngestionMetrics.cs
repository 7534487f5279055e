using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;

namespace Automations.Ingestion.Events;

public sealed class IngestionMetrics
{
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _rejected;

    public IngestionMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(Telemetry.Name);
        _accepted = meter.CreateCounter<long>("automations.events.accepted", description: "Artifact events accepted (new, not duplicates)");
        _duplicates = meter.CreateCounter<long>("automations.events.duplicates", description: "Artifact events whose eventId was already accepted");
        _rejected = meter.CreateCounter<long>("automations.events.rejected", description: "Artifact events refused, by reason");
    }

    public void Accepted(string source, string eventType) =>
        _accepted.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("event_type", eventType));

    public void Duplicate(string source) => _duplicates.Add(1, new KeyValuePair<string, object?>("source", source));

    public void Rejected(string source, string reason) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("reason", reason));
}
