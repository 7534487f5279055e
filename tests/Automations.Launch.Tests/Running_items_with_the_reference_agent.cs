using System.Globalization;
using System.Text.Json.Nodes;
using Automations.Contracts;
using Automations.Testing;
using Microsoft.Extensions.Hosting;

namespace Automations.Launch.Tests;

/// <summary>The reference agent (services/Automations.LaunchAgent) against the real LaunchEnqueuer, running real processes.</summary>
[Collection(LaunchCollection.Name)]
public sealed class Running_items_with_the_reference_agent(LaunchFixture f) : IDisposable
{
    private readonly string _workDir = Directory.CreateTempSubdirectory("launch-agent-test-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_workDir, recursive: true); } catch (IOException) { }
    }

    private async Task<IHost> StartAgentAsync(Guid queue, double graceSeconds = 30, int concurrency = 1)
    {
        var agent = LaunchAgent.Program.Build(
        [
            $"--Agent:Api={f.Enqueuer.BaseAddress}",
            $"--Agent:Key={f.AgentKey}",
            $"--Agent:Queues={queue}",
            $"--Agent:WorkDir={_workDir}",
            $"--Agent:Concurrency={concurrency}",
            "--Agent:WaitSeconds=2",
            "--Agent:HeartbeatSeconds=0.5",
            $"--Agent:ShutdownGraceSeconds={graceSeconds.ToString(CultureInfo.InvariantCulture)}",
        ]);
        await agent.StartAsync();
        return agent;
    }

    private static string Sh(string script) => new JsonArray("-c", script).ToJsonString();

    [Fact]
    public async Task Should_run_the_process_with_its_config_file_and_finish_the_run_on_exit_0()
    {
        var queue = await f.CreateQueueAsync();
        var job = await f.CreateJobAsync("/bin/sh",
            Sh("""cat "$AUTOMATIONS_RUN_CONFIG" > out.json && printf '%s|%s' "$AUTOMATIONS_TARGET_PROJECT" "$AUTOMATIONS_QUEUE_ITEM_ID" > env.txt"""),
            """{"lr":0.1,"model":{"name":"cnn","layers":3}}""");
        var command = LaunchFixture.Command(job, queue, """{"model":{"layers":5}}""");
        var enqueued = await f.EnqueueAsync(command);

        using var agent = await StartAgentAsync(queue);
        try
        {
            var finished = (await f.Finished.WaitForAsync(d => d.As<LaunchJobFinished>().QueueItemId == enqueued.QueueItemId))[0].As<LaunchJobFinished>();
            Assert.Equal(0, finished.ExitCode);
            Assert.Equal(command.RunId, finished.RunId);
        }
        finally
        {
            await agent.StopAsync();
        }

        var dir = Path.Combine(_workDir, enqueued.QueueItemId.ToString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"lr":0.1,"model":{"name":"cnn","layers":5}}"""),
            JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "out.json")))));
        Assert.Equal($"mnist-retrain|{enqueued.QueueItemId}", await File.ReadAllTextAsync(Path.Combine(dir, "env.txt")));
        var item = await f.ItemAsync(enqueued.QueueItemId);
        Assert.Equal("finished", item!.State);
        Assert.Equal(0, item.ExitCode);
    }

    [Fact]
    public async Task Should_not_hand_the_agent_key_to_the_job()
    {
        // The agent's configuration as an operator would give it, in the environment: the job (code any member may
        // write) must see neither the variables nor the key's value under another name.
        Environment.SetEnvironmentVariable("Agent__Key", f.AgentKey);
        Environment.SetEnvironmentVariable("AGENT_TOKEN_COPY", "prefix-" + f.AgentKey);
        try
        {
            var queue = await f.CreateQueueAsync();
            var enqueued = await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync("/bin/sh", Sh("env > env.txt")), queue));
            using var agent = await StartAgentAsync(queue);
            try
            {
                await f.Finished.WaitForAsync(d => d.As<LaunchJobFinished>().QueueItemId == enqueued.QueueItemId);
            }
            finally
            {
                await agent.StopAsync();
            }
            var env = await File.ReadAllTextAsync(Path.Combine(_workDir, enqueued.QueueItemId.ToString(), "env.txt"));
            Assert.Contains("AUTOMATIONS_RUN_CONFIG=", env, StringComparison.Ordinal);
            Assert.Contains("PATH=", env, StringComparison.Ordinal);
            Assert.DoesNotContain(f.AgentKey, env, StringComparison.Ordinal);
            Assert.DoesNotContain("Agent__", env, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            Environment.SetEnvironmentVariable("Agent__Key", null);
            Environment.SetEnvironmentVariable("AGENT_TOKEN_COPY", null);
        }
    }

    [Theory]
    [InlineData("Agent__Key", "ak_x", false)]
    [InlineData("AGENT__QUEUES", "q", false)]
    [InlineData("agent__api", "http://a", false)]
    [InlineData("COPY", "Bearer ak_x", false)]
    [InlineData("PATH", "/usr/bin", true)]
    [InlineData("AGENTS", "keep", true)]
    [InlineData("HOME", "/root", true)]
    public void Should_keep_only_what_is_not_the_agents_own(string name, string value, bool kept)
    {
        var env = new Dictionary<string, string?> { [name] = value };
        LaunchAgent.Runs.JobEnvironment.Scrub(env, "ak_x");
        Assert.Equal(kept, env.ContainsKey(name));
    }

    [Fact]
    public async Task Should_fail_the_run_when_the_process_exits_with_a_non_zero_code()
    {
        var queue = await f.CreateQueueAsync();
        var enqueued = await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync("/bin/sh", Sh("echo boom >&2; exit 3")), queue));

        using var agent = await StartAgentAsync(queue);
        try
        {
            var failed = (await f.Failed.WaitForAsync(d => d.As<LaunchJobFailed>().QueueItemId == enqueued.QueueItemId))[0].As<LaunchJobFailed>();
            Assert.Contains("code 3", failed.Reason, StringComparison.Ordinal);
        }
        finally
        {
            await agent.StopAsync();
        }

        var item = await f.ItemAsync(enqueued.QueueItemId);
        Assert.Equal("failed", item!.State);
        Assert.Equal(3, item.ExitCode);
        Assert.Equal("boom\n", await File.ReadAllTextAsync(Path.Combine(_workDir, enqueued.QueueItemId.ToString(), "stderr.log")));
        Assert.DoesNotContain(f.Finished.Received, d => d.As<LaunchJobFinished>().QueueItemId == enqueued.QueueItemId);
    }

    [Fact]
    public async Task Should_fail_the_run_when_the_command_cannot_be_started()
    {
        var queue = await f.CreateQueueAsync();
        var enqueued = await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync("/nonexistent/train"), queue));

        using var agent = await StartAgentAsync(queue);
        try
        {
            var failed = (await f.Failed.WaitForAsync(d => d.As<LaunchJobFailed>().QueueItemId == enqueued.QueueItemId))[0].As<LaunchJobFailed>();
            Assert.Contains("Could not start '/nonexistent/train'", failed.Reason, StringComparison.Ordinal);
        }
        finally
        {
            await agent.StopAsync();
        }
        Assert.Equal("failed", (await f.ItemAsync(enqueued.QueueItemId))!.State);
    }

    [Fact]
    public async Task Should_let_a_running_process_finish_within_the_grace_period_when_stopped()
    {
        var queue = await f.CreateQueueAsync();
        var enqueued = await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync("/bin/sh", Sh("sleep 2; echo done > done.txt")), queue));

        using var agent = await StartAgentAsync(queue, graceSeconds: 60);
        await Eventually.TrueAsync(async () => (await f.ItemAsync(enqueued.QueueItemId))!.State == "running", "the process runs");
        await agent.StopAsync();

        Assert.Equal("finished", (await f.ItemAsync(enqueued.QueueItemId))!.State);
        Assert.True(File.Exists(Path.Combine(_workDir, enqueued.QueueItemId.ToString(), "done.txt")));
        await f.Finished.WaitForAsync(d => d.As<LaunchJobFinished>().QueueItemId == enqueued.QueueItemId);
    }

    [Fact]
    public async Task Should_kill_the_process_and_hand_the_item_back_when_the_grace_period_ends()
    {
        var queue = await f.CreateQueueAsync();
        var enqueued = await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync("/bin/sh", Sh("echo $$ > pid; exec sleep 120")), queue));

        using var agent = await StartAgentAsync(queue, graceSeconds: 0.5);
        await Eventually.TrueAsync(async () => (await f.ItemAsync(enqueued.QueueItemId))!.State == "running", "the process runs");
        await agent.StopAsync();

        var item = await f.ItemAsync(enqueued.QueueItemId);
        Assert.Equal("queued", item!.State);
        Assert.Equal(0, item.Claims);
        var pid = (await File.ReadAllTextAsync(Path.Combine(_workDir, enqueued.QueueItemId.ToString(), "pid"))).Trim();
        Assert.False(Directory.Exists($"/proc/{pid}"), $"process {pid} was killed");
        var again = await f.ClaimItemAsync(f.SecondAgentKey, queue);
        Assert.Equal(enqueued.QueueItemId, again!.Value.GetProperty("id").GetGuid());
        (await f.ReportAsync(f.SecondAgentKey, again.Value, "finished", new { exitCode = 0 })).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task Should_run_as_many_items_at_once_as_its_concurrency()
    {
        var queue = await f.CreateQueueAsync();
        // Each process waits until the other one has started: both finish only if they run side by side.
        var job = await f.CreateJobAsync("/bin/sh", Sh("""
            touch "../started-$AUTOMATIONS_QUEUE_ITEM_ID"
            i=0; while [ "$(ls ../started-* | wc -l)" -lt 2 ]; do i=$((i+1)); [ $i -gt 300 ] && exit 9; sleep 0.1; done
            """));
        var a = await f.EnqueueAsync(LaunchFixture.Command(job, queue));
        var b = await f.EnqueueAsync(LaunchFixture.Command(job, queue));

        using var agent = await StartAgentAsync(queue, concurrency: 2);
        try
        {
            await f.Finished.WaitForAsync(d => d.As<LaunchJobFinished>().QueueItemId == a.QueueItemId || d.As<LaunchJobFinished>().QueueItemId == b.QueueItemId, 2, TimeSpan.FromSeconds(45));
        }
        finally
        {
            await agent.StopAsync();
        }
    }
}
