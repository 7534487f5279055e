using System.Text.Json;
using Automations.Contracts;
using Automations.Testing;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

public class Matching_events_to_automations(RulesFixture fx) : IClassFixture<RulesFixture>
{
    public sealed record Case(AutomationSpec[] Automations, Func<string, ArtifactEventReceived> Event, string[] Fired, bool DeleteFirst = false);

    private const string Other = "<other project>";

    public static readonly Dictionary<string, Case> Cases = new()
    {
        ["CREATE_ARTIFACT in the automation's collection fires"] =
            new([new("a")], p => Event(p), ["a"]),
        ["LINK_ARTIFACT in the automation's collection fires"] =
            new([new("a", EventTypes.LinkArtifact)], p => Event(p, EventTypes.LinkArtifact), ["a"]),
        ["ADD_ARTIFACT_ALIAS whose alias matches the regex fires"] =
            new([new("a", EventTypes.AddArtifactAlias, AliasRegex: "prod.*")], p => Event(p, EventTypes.AddArtifactAlias, alias: "production"), ["a"]),
        ["ADD_ARTIFACT_ALIAS whose alias misses the regex does not fire"] =
            new([new("a", EventTypes.AddArtifactAlias, AliasRegex: "production")], p => Event(p, EventTypes.AddArtifactAlias, alias: "staging"), []),
        // Alias and tag regexes are searches, as W&B's $regex: a pattern anchors itself where it wants.
        ["an alias regex anchored at the start fires for an alias that starts with it"] =
            new([new("a", EventTypes.AddArtifactAlias, AliasRegex: "^prod")], p => Event(p, EventTypes.AddArtifactAlias, alias: "production"), ["a"]),
        ["an alias regex is found anywhere in the alias"] =
            new([new("a", EventTypes.AddArtifactAlias, AliasRegex: "production")], p => Event(p, EventTypes.AddArtifactAlias, alias: "pre-production"), ["a"]),
        ["an alias regex anchored at both ends must match the whole alias"] =
            new([new("a", EventTypes.AddArtifactAlias, AliasRegex: "^production$")], p => Event(p, EventTypes.AddArtifactAlias, alias: "pre-production"), []),
        ["an alias automation without collection fires for every collection of the project"] =
            new([new("a", EventTypes.AddArtifactAlias, Collection: null, AliasRegex: "latest")], p => Event(p, EventTypes.AddArtifactAlias, "any-model", alias: "latest"), ["a"]),
        ["an alias automation scoped to a collection ignores other collections"] =
            new([new("a", EventTypes.AddArtifactAlias, Collection: "eval-set")], p => Event(p, EventTypes.AddArtifactAlias, "train-set", alias: "latest"), []),
        ["a tag regex hit fires"] =
            new([new("a", TagRegex: "gold|silver")], p => Event(p, tag: "gold"), ["a"]),
        ["a tag regex is found anywhere in the tag"] =
            new([new("a", TagRegex: "gold")], p => Event(p, tag: "gold-2026"), ["a"]),
        ["a tag regex on an event without tag does not fire"] =
            new([new("a", TagRegex: "gold")], p => Event(p), []),
        ["another collection does not fire"] =
            new([new("a")], p => Event(p, collection: "train-set"), []),
        ["another event type does not fire"] =
            new([new("a", EventTypes.CreateArtifact)], p => Event(p, EventTypes.LinkArtifact), []),
        ["another project with the same collection name does not fire"] =
            new([new("a", Project: Other)], p => Event(p), []),
        ["another entity with the same project and collection does not fire"] =
            new([new("a", Entity: "globex")], p => Event(p), []),
        ["a disabled automation does not fire"] =
            new([new("a", Enabled: false)], p => Event(p), []),
        ["a deleted automation does not fire"] =
            new([new("a")], p => Event(p), [], DeleteFirst: true),
        ["two automations on one event both fire, once each"] =
            new([new("a"), new("b"), new("c", Collection: "train-set")], p => Event(p), ["a", "b"]),
    };

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Should_fire_exactly_the_matching_automations(string name)
    {
        var @case = Cases[name];
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        var ids = new List<Guid>();
        foreach (var spec in @case.Automations)
            ids.Add(await fx.CreateWebhookAutomationAsync(project, spec.Project == Other ? spec with { Project = "other-" + project } : spec));
        if (@case.DeleteFirst)
            await fx.ChangeAsync("delete from control.automations where id = any(@ids)", new { ids = ids.ToArray() }, project);

        var e = @case.Event(project);
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);
        await fx.HandleAsync(e);

        var runs = await fx.RunsOfEventAsync(e.EventId);
        Assert.Equal(@case.Fired, runs.Select(r => r.AutomationName));
        Assert.All(runs, r => Assert.Equal("Pending", r.Status));
        if (@case.Fired.Length > 0)
        {
            // Alone or together in a SendWebhooks batch (one event's commands commit together); a lone one's message id is its command id.
            var commands = await probe.WaitForCommandsAsync(c => c.EventId == e.EventId, @case.Fired.Length);
            Assert.Equal(runs.Select(r => r.CommandId).Order(), commands.Select(c => c.Command.CommandId).Order());
            Assert.All(commands.Where(c => !c.InBatch), c => Assert.Equal(c.Command.CommandId, c.MessageId));
        }
    }

    [Fact]
    public async Task Should_render_event_variables_into_the_payload_and_leave_secret_names()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        const string template = """
            {"event_type":"repository_dispatch-${event_type}","client_payload":{"version":"${artifact_version_string}","uri":"${artifact_version}",
             "collection":"${artifact_collection_name}","index":"${artifact_version_index}","alias":"${alias}","author":"${event_author}",
             "accuracy":"${artifact_metadata.accuracy}","where":"${entity_name}/${project_name}","by":"${automation_name}","token":"${GITHUB_TOKEN}"}}
            """;
        var automationId = await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("dispatch", Payload: template));
        var e = Event(project, metadataJson: """{"accuracy":0.93}""");
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);
        await fx.HandleAsync(e);

        var command = (await probe.WaitForCommandsAsync(c => c.EventId == e.EventId)).Single().Command;
        Assert.Equal((automationId, fx.AcmeWebhookId, "acme", project), (command.AutomationId, command.WebhookId, command.Entity, command.Project));
        var expected = $$$"""
            {"event_type":"repository_dispatch-CREATE_ARTIFACT","client_payload":{"version":"acme/{{{project}}}/eval-set:v3","uri":"wandb-artifact://_id/QXJ0aWZhY3Q6NTE3ODg5ODg3",
             "collection":"eval-set","index":"3","alias":"","author":"jane",
             "accuracy":"0.93","where":"acme/{{{project}}}","by":"dispatch","token":"${GITHUB_TOKEN}"}}
            """;
        Assert.Equal(Compact(expected), command.Payload);
        Assert.Equal(command.Payload, (await fx.RunsOfEventAsync(e.EventId)).Single().Payload);
    }

    private static string Compact(string json) => JsonSerializer.Serialize(JsonDocument.Parse(json).RootElement);
}
