using System.Text.Json;
using System.Text.Json.Nodes;
using Automations.Contracts;
using Automations.Persistence;
using Automations.Testing;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

public class Issuing_launch_jobs(RulesFixture fx) : IClassFixture<RulesFixture>
{
    [Fact]
    public async Task Should_carry_the_job_its_latest_version_the_queue_rendered_overrides_and_the_event()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        var automationId = await fx.CreateLaunchAutomationAsync(project, "retrain", jobVersion: null,
            overrides: """{"run_config":{"artifact":"${artifact_version_string}","lr":0.01},"entry_point":["python","eval.py"]}""", targetProject: "training");
        var e = Event(project);
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(EnqueueLaunchJob));
        await fx.HandleAsync(e);

        var command = (await probe.WaitForAsync(d => d.As<EnqueueLaunchJob>().EventId == e.EventId)).Single().As<EnqueueLaunchJob>();
        var run = (await fx.RunsOfEventAsync(e.EventId)).Single();
        Assert.Equal((run.Id, run.CommandId, automationId), (command.RunId, command.CommandId, command.AutomationId));
        Assert.Equal((fx.AcmeJobId, 2, fx.AcmeQueueId, "training"), (command.JobId, command.JobVersion, command.QueueId, command.TargetProject));
        // Overrides are stored as jsonb, which keeps the values but not the key order.
        var expected = JsonNode.Parse($$"""{"run_config":{"artifact":"acme/{{project}}/eval-set:v3","lr":0.01},"entry_point":["python","eval.py"]}""");
        Assert.True(JsonNode.DeepEquals(expected, JsonNode.Parse(command.OverridesJson)), command.OverridesJson);
        Assert.Equal(e, JsonSerializer.Deserialize<ArtifactEventReceived>(command.EventJson, Json.Options));
        Assert.Equal(("launch", command.OverridesJson), (run.ActionType, run.Payload));
    }

    [Fact]
    public async Task Should_keep_the_version_the_automation_names()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateLaunchAutomationAsync(project, "retrain", jobVersion: 1, overrides: null, targetProject: null);
        var e = Event(project);
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(EnqueueLaunchJob));
        await fx.HandleAsync(e);
        var command = (await probe.WaitForAsync(d => d.As<EnqueueLaunchJob>().EventId == e.EventId)).Single().As<EnqueueLaunchJob>();
        Assert.Equal((1, "{}", (string?)null), (command.JobVersion, command.OverridesJson, command.TargetProject));
    }
}
