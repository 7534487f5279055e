using System.Diagnostics;

namespace Automations.WebhookSender.Sending;

/// <summary>
/// What a webhook request carries of the trace: W3C `traceparent` and `tracestate`, nothing else. .NET's propagators
/// also send the activity's baggage (`baggage`, or `Correlation-Context` and `Request-Id` before W3C), where MassTransit
/// keeps its conversation id: internal ids that a third-party endpoint has no business seeing.
/// </summary>
public sealed class TraceContextOnlyPropagator : DistributedContextPropagator
{
    public static readonly TraceContextOnlyPropagator Instance = new();
    private static readonly DistributedContextPropagator W3C = CreateW3CPropagator();
    private static readonly string[] Sent = ["traceparent", "tracestate"];

    private TraceContextOnlyPropagator() { }

    public override IReadOnlyCollection<string> Fields => Sent;

    public override void Inject(Activity? activity, object? carrier, PropagatorSetterCallback? setter)
    {
        if (setter is null) return;
        W3C.Inject(activity, carrier, (c, name, value) =>
        {
            if (Sent.Contains(name, StringComparer.OrdinalIgnoreCase)) setter(c, name, value);
        });
    }

    public override void ExtractTraceIdAndState(object? carrier, PropagatorGetterCallback? getter, out string? traceId, out string? traceState) =>
        W3C.ExtractTraceIdAndState(carrier, getter, out traceId, out traceState);

    public override IEnumerable<KeyValuePair<string, string?>>? ExtractBaggage(object? carrier, PropagatorGetterCallback? getter) => null;
}
