using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Automations.LaunchAgent;
using Automations.LaunchAgent.Api;
using Automations.LaunchAgent.Runs;
using Automations.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Automations.Launch.Tests;

/// <summary>
/// The agent's report path against a scripted HttpMessageHandler: every way HttpClient reports a network failure
/// (SocketsHttpHandler does not wrap them all in HttpRequestException) is retried, and a lost lease is logged.
/// No LaunchEnqueuer, database or broker.
/// </summary>
public sealed class Reporting_through_an_unreliable_network : IDisposable
{
    private readonly string _workDir = Directory.CreateTempSubdirectory("launch-agent-report-").FullName;
    private readonly CapturedLogs _logs = new();
    private readonly ILoggerFactory _loggers;

    public Reporting_through_an_unreliable_network() => _loggers = LoggerFactory.Create(b => b.AddProvider(_logs));

    public void Dispose()
    {
        _loggers.Dispose();
        try { Directory.Delete(_workDir, recursive: true); } catch (IOException) { }
    }

    /// <summary>Answers each call to a path ending in the key with the next scripted step (an exception or a status), then 200.</summary>
    private sealed class ScriptedHandler : HttpMessageHandler
    {
        public ConcurrentDictionary<string, ConcurrentQueue<Func<HttpResponseMessage>>> Steps { get; } = new();
        public ConcurrentQueue<string> Calls { get; } = new();
        /// <summary>Called with each call's path end before it is answered (a test acts on what the client has done so far).</summary>
        public Action<string>? OnCall { get; set; }

        public void Script(string what, params Func<HttpResponseMessage>[] steps) => Steps[what] = new ConcurrentQueue<Func<HttpResponseMessage>>(steps);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var what = request.RequestUri!.AbsolutePath.Split('/')[^1];
            Calls.Enqueue(what);
            OnCall?.Invoke(what);
            if (Steps.TryGetValue(what, out var steps) && steps.TryDequeue(out var step)) return Task.FromResult(step());
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{}") });
        }
    }

    private static Func<HttpResponseMessage> Throws(Exception ex) => () => throw ex;
    private static Func<HttpResponseMessage> Answers(HttpStatusCode status) => () => new HttpResponseMessage(status) { Content = new StringContent("{}") };

    private (LaunchApiClient Api, IOptions<AgentOptions> Options) Client(ScriptedHandler handler)
    {
        var options = Options.Create(new AgentOptions
        {
            Key = "k", Queues = [Guid.NewGuid()], WorkDir = _workDir, HeartbeatSeconds = 0.2, ReportRetrySeconds = 1, ReportTimeoutSeconds = 5,
        });
        var http = new HttpClient(handler) { BaseAddress = new Uri("http://127.0.0.1:9/") };
        return (new LaunchApiClient(http, options, _loggers.CreateLogger<LaunchApiClient>()), options);
    }

    private static ClaimedItem Item(string command, params string[] args) => new(
        Guid.NewGuid(), Guid.NewGuid(), DateTimeOffset.UtcNow.AddMinutes(1), 1, Guid.NewGuid(), Guid.NewGuid(), "acme", "mnist", null,
        Guid.NewGuid(), "job", 1, command, JsonSerializer.SerializeToElement(args), JsonSerializer.SerializeToElement(new { }),
        JsonSerializer.SerializeToElement(new { }));

    [Fact]
    public async Task Should_retry_the_outcome_through_every_kind_of_network_failure_until_it_is_answered()
    {
        var handler = new ScriptedHandler();
        handler.Script("finished",
            Throws(new SocketException((int)SocketError.NotConnected)), // what SocketsHttpHandler let escape through the cut proxy
            Throws(new HttpRequestException("Connection reset by peer", new SocketException((int)SocketError.ConnectionReset))),
            Throws(new HttpIOException(HttpRequestError.ResponseEnded, "The response ended prematurely.")),
            Throws(new IOException("Broken pipe")),
            Throws(new TaskCanceledException("The request was canceled due to the configured HttpClient.Timeout")),
            Answers(HttpStatusCode.ServiceUnavailable),
            Answers(HttpStatusCode.BadGateway));
        var (api, _) = Client(handler);

        Assert.Equal(ReportResult.Ok, await api.FinishedAsync(Item("/bin/true"), 0, CancellationToken.None));
        Assert.Equal(8, handler.Calls.Count(c => c == "finished"));
    }

    [Fact]
    public async Task Should_retry_the_outcome_past_Agent_ReportRetrySeconds_and_stop_only_when_told()
    {
        // Every call refused. Agent:ReportRetrySeconds (1 s) bounds a hand-back: the release gives up with the network error.
        var refused = Throws(new SocketException((int)SocketError.ConnectionRefused));
        var handler = new ScriptedHandler();
        handler.Script("release", [.. Enumerable.Repeat(refused, 10_000)]);
        handler.Script("finished", [.. Enumerable.Repeat(refused, 10_000)]);
        var (api, options) = Client(handler);
        await Assert.ThrowsAsync<SocketException>(() => api.ReleaseAsync(Item("/bin/true"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));

        // An outcome is not bounded by it: still retried after twice that long, and it ends only when its token fires.
        var first = DateTime.MinValue;
        using var giveUp = new CancellationTokenSource();
        handler.OnCall = what =>
        {
            if (what != "finished") return;
            if (first == DateTime.MinValue) first = DateTime.UtcNow;
            else if (DateTime.UtcNow - first > TimeSpan.FromSeconds(2 * options.Value.ReportRetrySeconds)) giveUp.Cancel();
        };
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => api.FinishedAsync(Item("/bin/true"), 0, giveUp.Token).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(giveUp.IsCancellationRequested, "the outcome stopped before it was told to");
    }

    [Fact]
    public async Task Should_answer_lease_lost_at_once_and_not_retry_a_refusal()
    {
        var handler = new ScriptedHandler();
        handler.Script("finished", Answers(HttpStatusCode.Conflict));
        handler.Script("failed", Answers(HttpStatusCode.BadRequest));
        var (api, _) = Client(handler);

        Assert.Equal(ReportResult.LeaseLost, await api.FinishedAsync(Item("/bin/true"), 0, CancellationToken.None));
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => api.FailedAsync(Item("/bin/true"), "why", CancellationToken.None));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal(["finished", "failed"], handler.Calls.ToArray());
    }

    [Fact]
    public async Task Should_keep_running_through_failed_heartbeats_and_report_the_exit_code()
    {
        var handler = new ScriptedHandler();
        var netDown = Throws(new SocketException((int)SocketError.NotConnected));
        handler.Script("running", netDown, netDown); // acknowledged at the second heartbeat tick
        handler.Script("heartbeat", [.. Enumerable.Repeat(netDown, 100)]);
        handler.Script("finished", netDown, Throws(new IOException("reset")), netDown);
        var (api, options) = Client(handler);
        var runner = new ItemRunner(api, options, _loggers.CreateLogger<ItemRunner>());

        await runner.RunAsync(Item("/bin/sh", "-c", "sleep 2"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        var calls = handler.Calls.ToArray();
        Assert.Equal(3, calls.Count(c => c == "running"));
        Assert.Contains("heartbeat", calls);
        Assert.Equal(4, calls.Count(c => c == "finished"));
        Assert.Equal("finished", calls[^1]);
        Assert.Contains(_logs.Lines, l => l.Contains("reported finished with exit code 0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Should_log_clearly_when_the_lease_was_lost_before_the_outcome_got_through()
    {
        var handler = new ScriptedHandler();
        handler.Script("finished", Throws(new SocketException((int)SocketError.NotConnected)), Answers(HttpStatusCode.Conflict));
        var (api, options) = Client(handler);
        var runner = new ItemRunner(api, options, _loggers.CreateLogger<ItemRunner>());
        var item = Item("/bin/true");

        await runner.RunAsync(item, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Contains(_logs.Lines, l => l.StartsWith("Error", StringComparison.Ordinal) && l.Contains("outcome NOT recorded", StringComparison.Ordinal)
            && l.Contains(item.LeaseId.ToString(), StringComparison.Ordinal) && l.Contains("no longer holds the item", StringComparison.Ordinal));
    }
}
