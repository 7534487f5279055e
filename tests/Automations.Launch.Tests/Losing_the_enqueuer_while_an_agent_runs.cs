using System.Text.Json.Nodes;
using Automations.Contracts;
using Automations.Testing;

namespace Automations.Launch.Tests;

/// <summary>The agent reaches LaunchEnqueuer through a proxy that the test cuts while a process runs.</summary>
[Collection(LaunchCollection.Name)]
public sealed class Losing_the_enqueuer_while_an_agent_runs(LaunchFixture f) : IDisposable
{
    private readonly string _workDir = Directory.CreateTempSubdirectory("launch-agent-outage-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_workDir, recursive: true); } catch (IOException) { }
    }

    // While cut, the proxy accepts connections and resets them at once; SocketsHttpHandler then sometimes throws a bare
    // SocketException (ENOTCONN) rather than an HttpRequestException. That once ended the agent's runner (and the agent):
    // the outcome was never reported. The agent now treats any network failure as transient and retries the outcome.
    [Fact]
    public async Task Should_report_the_exit_code_once_the_enqueuer_is_back_and_serve_every_queue()
    {
        var quiet = await f.CreateQueueAsync();
        var queue = await f.CreateQueueAsync();
        var enqueued = await f.EnqueueAsync(LaunchFixture.Command(
            await f.CreateJobAsync("/bin/sh", new JsonArray("-c", "sleep 1; echo ok > done.txt").ToJsonString()), queue));
        await using var proxy = new TcpProxy("127.0.0.1", f.Enqueuer.BaseAddress.Port);

        using var agent = LaunchAgent.Program.Build(
        [
            $"--Agent:Api=http://127.0.0.1:{proxy.Port}",
            $"--Agent:Key={f.AgentKey}",
            $"--Agent:Queues={quiet},{queue}",
            $"--Agent:WorkDir={_workDir}",
            "--Agent:WaitSeconds=2",
            "--Agent:HeartbeatSeconds=0.5",
        ]);
        await agent.StartAsync();
        try
        {
            await Eventually.TrueAsync(async () => (await f.ItemAsync(enqueued.QueueItemId))!.State == "running", "the process runs");
            proxy.Cut();
            var done = Path.Combine(_workDir, enqueued.QueueItemId.ToString(), "done.txt");
            await Eventually.TrueAsync(() => Task.FromResult(File.Exists(done)), "the process ended while the enqueuer was unreachable");
            // The agent tries to report the outcome and is refused, more than once (its retry path), before the enqueuer is back.
            var refused = proxy.Refused;
            await Eventually.TrueAsync(() => Task.FromResult(proxy.Refused >= refused + 2), "the agent's report was refused twice");
            Assert.Equal("running", (await f.ItemAsync(enqueued.QueueItemId))!.State);
            proxy.Restore();

            await f.Finished.WaitForAsync(d => d.As<LaunchJobFinished>().QueueItemId == enqueued.QueueItemId);
            var item = await f.ItemAsync(enqueued.QueueItemId);
            Assert.Equal("finished", item!.State);
            Assert.Equal(1, item.Claims);
        }
        finally
        {
            await agent.StopAsync();
        }
    }
}
