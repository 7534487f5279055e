using System.Collections.Concurrent;
using System.Diagnostics;

namespace Automations.EndToEnd.Tests;

/// <summary>An in-process span exporter: every activity of every service host in this test process, as it stops.</summary>
public sealed class SpanRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    public ConcurrentQueue<Activity> Stopped { get; } = new();

    public SpanRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = _ => true,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => Stopped.Enqueue(a),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public IReadOnlyList<Activity> Trace(ActivityTraceId traceId) => Stopped.Where(a => a.TraceId == traceId).ToList();

    public void Dispose() => _listener.Dispose();
}
