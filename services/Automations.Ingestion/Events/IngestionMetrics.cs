using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;

namespace Automations.Ingestion.Events;

/// <summary>The intake's instruments, on the host's "Automations" meter (the factory gives every caller the same one).</summary>
public sealed class IngestionMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _accepted = meters.Create(Telemetry.Name).CreateCounter<long>("automations.events.accepted", description: "Artifact events accepted (new, not duplicates)");
    private readonly Counter<long> _duplicates = meters.Create(Telemetry.Name).CreateCounter<long>("automations.events.duplicates", description: "Artifact events whose eventId was already accepted");
    private readonly Counter<long> _rejected = meters.Create(Telemetry.Name).CreateCounter<long>("automations.events.rejected", description: "Artifact events refused, by reason");

    public void Accepted(string source, string eventType) =>
        _accepted.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("event_type", eventType));

    public void Duplicate(string source) => _duplicates.Add(1, new KeyValuePair<string, object?>("source", source));

    public void Rejected(string source, string reason) =>
        _rejected.Add(1, new KeyValuePair<string, object?>("source", source), new KeyValuePair<string, object?>("reason", reason));
}
