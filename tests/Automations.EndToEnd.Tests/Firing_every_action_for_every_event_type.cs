using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Notifications;
using Automations.Persistence.Control;
using Automations.Rules.RunEvents;
using Automations.Rules.Runs;
using Automations.Testing;
using Dapper;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;

namespace Automations.EndToEnd.Tests;

/// <summary>
/// The pipeline of <see cref="PipelineFixture"/> (Launch included), shared by every case of the matrix, with what the
/// cases share: a signing secret, a launch job, an agent key, a channel to the artifact-events exchange, and the event
/// messages each Rules host consumed (by message id), so a case can hand Rules one again as a broker redelivery would.
/// </summary>
public sealed class ActionMatrixFixture : PipelineFixture
{
    public const string SigningSecretName = "MATRIX_SIGNING";
    public const string Job = "matrix-job";
    public string AgentKey { get; private set; } = "";
    public ConcurrentDictionary<Guid, ConsumedEvent> ConsumedByRules { get; } = new();
    private IConnection? _amqp;
    private IChannel? _channel;

    public sealed record ConsumedEvent(object Message, int Times);

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        using var api = ApiClient();
        using (var secret = await api.PostAsJsonAsync("/v1/entities/acme/secrets", new { name = SigningSecretName, value = SigningSecret }))
            Assert.True(secret.IsSuccessStatusCode, await secret.Content.ReadAsStringAsync());
        using var job = await api.PostAsJsonAsync("/v1/entities/acme/jobs", new { name = Job });
        Assert.True(job.IsSuccessStatusCode, await job.Content.ReadAsStringAsync());
        var jobId = (await job.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        using (var version = await api.PostAsJsonAsync($"/v1/entities/acme/jobs/{jobId}/versions", new { command = "/bin/true", args = Array.Empty<string>(), defaultConfig = new { epochs = 3 } }))
            Assert.True(version.IsSuccessStatusCode, await version.Content.ReadAsStringAsync());
        await using (var c = await DataSource.OpenConnectionAsync())
        {
            var entityId = await c.ExecuteScalarAsync<Guid>("select id from control.entities where name = 'acme'");
            AgentKey = await Bootstrap.CreateServiceKeyAsync(DataSource, entityId, "matrix-agent", ["queues:agent"]);
        }
        _amqp = await new ConnectionFactory { Uri = new Uri(RabbitMqConnectionString) }.CreateConnectionAsync();
        _channel = await _amqp.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await _channel.ExchangeDeclareAsync(Exchanges.ArtifactEvents, ExchangeType.Topic, durable: true, autoDelete: false);
    }

    protected override void OnRulesStarted(IBus bus) => bus.ConnectConsumeObserver(new EventsObserver(ConsumedByRules));

    /// <summary>Publishes raw JSON as a producer outside .NET does (routing key = event type), waiting for the broker's confirm.</summary>
    public async Task PublishRawAsync(string routingKey, string body)
    {
        // One channel, used by one case at a time: xunit runs the cases of a class one after another.
        var props = new BasicProperties { Persistent = true, MessageId = Guid.NewGuid().ToString() };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _channel!.BasicPublishAsync(Exchanges.ArtifactEvents, routingKey, mandatory: false, props, Encoding.UTF8.GetBytes(body), cts.Token);
    }

    private sealed class EventsObserver(ConcurrentDictionary<Guid, ConsumedEvent> consumed) : IConsumeObserver
    {
        public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context) where T : class
        {
            if (context.MessageId is { } id && context.Message is ArtifactEventReceived or RunEventReceived)
                consumed.AddOrUpdate(id, _ => new ConsumedEvent(context.Message, 1), (_, seen) => seen with { Times = seen.Times + 1 });
            return Task.CompletedTask;
        }

        public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }

    public override async Task DisposeAsync()
    {
        if (_channel is not null) await _channel.DisposeAsync();
        if (_amqp is not null) await _amqp.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>
/// Every trigger kind × every action kind, end to end on the real broker and database: the automation is created
/// through the Api, the event goes in over HTTP or AMQP (alternating, so each trigger and each action sees both), and
/// exactly one outcome comes out: a signed webhook, a Slack or Teams message, a queue item an agent claims, or a no-op
/// run. The same event again (same eventId) and the same message handed to Rules again change nothing. For the metric
/// triggers Rules is restarted mid-window and again while the condition holds: the crossing that needs the value from
/// before the restart fires, the values that keep holding do not fire again, and a new crossing fires again.
/// </summary>
public class Firing_every_action_for_every_event_type(ActionMatrixFixture fx) : IClassFixture<ActionMatrixFixture>
{
    /// <summary>The kinds the cases below know how to build; <see cref="Should_cover_every_trigger_kind_with_every_action_kind"/> holds them to the code's.</summary>
    private static readonly string[] Triggers =
    [
        EventTypes.CreateArtifact, EventTypes.LinkArtifact, EventTypes.AddArtifactAlias,
        RunEventTypes.RunState, RunEventTypes.RunMetricThreshold, RunEventTypes.RunMetricChange,
    ];

    private static readonly string[] Actions = [ActionTypes.Webhook, IntegrationKinds.Slack, IntegrationKinds.Teams, ActionTypes.Launch, ActionTypes.NoOp];

    private const string Http = "http";
    private const string Amqp = "amqp";

    public static TheoryData<string, string, string> Cases
    {
        get
        {
            var data = new TheoryData<string, string, string>();
            for (var t = 0; t < Triggers.Length; t++)
                for (var a = 0; a < Actions.Length; a++)
                    data.Add(Triggers[t], Actions[a], (t + a) % 2 == 0 ? Http : Amqp);
            return data;
        }
    }

    private static IEnumerable<string> Constants(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!);

    [Fact]
    public void Should_cover_every_trigger_kind_with_every_action_kind()
    {
        // From the code: every artifact event type and every run trigger; every action type, a notification once per
        // integration kind it can post to (a plain webhook is the "generic" kind, the webhook action).
        var triggers = Constants(typeof(EventTypes)).Union(EventTypes.All).Union(RunEventTypes.Triggers).ToHashSet();
        var actions = Constants(typeof(ActionTypes))
            .SelectMany(a => a == ActionTypes.Notification ? IntegrationKinds.Notification : [a]).ToHashSet();
        var cases = Cases.Select(row => (Trigger: (string)row[0], Action: (string)row[1], Channel: (string)row[2])).ToList();

        var missing = triggers.SelectMany(t => actions.Select(a => (t, a))).Where(p => !cases.Any(c => (c.Trigger, c.Action) == p)).ToList();
        Assert.True(missing.Count == 0, "no end-to-end case for: " + string.Join(", ", missing.Select(p => $"{p.t} × {p.a}")));
        Assert.Equal(cases.Count, cases.Distinct().Count());
        Assert.All(triggers, t => Assert.Equal([Amqp, Http], cases.Where(c => c.Trigger == t).Select(c => c.Channel).Distinct().Order()));
        Assert.All(actions, a => Assert.Equal([Amqp, Http], cases.Where(c => c.Action == a).Select(c => c.Channel).Distinct().Order()));
        Assert.Equal(cases.Count(c => c.Channel == Http), cases.Count(c => c.Channel == Amqp));
    }

    private const string Payload = """
        {"type":"${event_type}","automation":"${automation_name}","project":"${project_name}","version":"${artifact_version_string}",
         "run":"${run_id}","state":"${run_state}","value":"${metric_value}"}
        """;
    private const string Title = "${event_type} fired ${automation_name}";
    private const string Text = "version=${artifact_version_string} run=${run_id} state=${run_state} value=${metric_value}";

    /// <summary>What one firing renders (every action's template takes the same variables).</summary>
    private sealed record Fired(string EventType, string Version, string Run, string State, string Value)
    {
        public string Title(Case c) => $"{EventType} fired {c.Name}";
        public string Text => $"version={Version} run={Run} state={State} value={Value}";
    }

    private sealed record Event(string EventId, string EventType, string Json, string? RunId = null);

    private sealed class Case(string trigger, string action, string channel)
    {
        public string Trigger { get; } = trigger;
        public string Action { get; } = action;
        public string Channel { get; } = channel;
        /// <summary>Its own project: every case's automation sees only its own events.</summary>
        public string Project { get; } = $"{trigger}-{action}".ToLowerInvariant().Replace('_', '-');
        public string Name => Project;
        public string Path => Action switch
        {
            IntegrationKinds.Slack => $"/services/T0MATRIX/B0MATRIX/{Project}",
            IntegrationKinds.Teams => $"/workflows/matrix/{Project}",
            _ => $"/hooks/{Project}",
        };
        public Guid QueueId { get; set; }
        public List<JsonElement> Claimed { get; } = [];
        /// <summary>Ingestion's ids of the events the case sent that Ingestion took as new: the only messages Rules may see for its project.</summary>
        public HashSet<Guid> Sent { get; } = [];
        public string Consumer => RunEventTypes.IsTrigger(Trigger) ? RunEventConsumerDefinition.InboxName : ArtifactEventConsumerDefinition.InboxName;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Should_fire_once_and_not_again_for_a_copy_of_the_event(string trigger, string action, string channel)
    {
        var c = new Case(trigger, action, channel);
        var automation = await CreateAutomationAsync(c);
        if (trigger is RunEventTypes.RunMetricThreshold or RunEventTypes.RunMetricChange)
            await CrossTwiceThroughRestartsAsync(c, automation);
        else
            await FireOnceAsync(c, automation);
    }

    private async Task FireOnceAsync(Case c, Guid automation)
    {
        var (e, fired) = c.Trigger == RunEventTypes.RunState ? StateEvent(c) : ArtifactEvent(c);
        var id = await SendAsync(c, e);
        await HandledAsync(c, id);
        Assert.Equal(1, await RunsAsync(automation));
        await OutcomesAsync(c, automation, [fired]);

        await SendCopyAsync(c, e);
        await RedeliverToRulesAsync(id);
        await NothingElseReachedRulesAsync(c, c.Trigger == RunEventTypes.RunState ? e.RunId : null);
        Assert.Equal(1, await RunsAsync(automation));
        await OutcomesAsync(c, automation, [fired]);
    }

    private async Task CrossTwiceThroughRestartsAsync(Case c, Guid automation)
    {
        // Threshold: AVERAGE of 2 > 0.8. Change: the newest value at least 1.0 above the one before it.
        var threshold = c.Trigger == RunEventTypes.RunMetricThreshold;
        double[] values = threshold ? [0.5, 1.5, 1.5, 0.0, 2.5] : [1.0, 2.5, 4.0, 4.0, 5.5];
        var (first, second) = threshold ? ("1", "1.25") : ("2.5", "5.5");
        var run = "run" + Guid.NewGuid().ToString("N")[..8];
        async Task<Guid> Step(long step)
        {
            var id = await SendAsync(c, MetricEvent(c, run, step, values[step - 1]));
            await HandledAsync(c, id);
            return id;
        }

        await Step(1);
        // Mid-window: step 1 is in Rules' state, the next host has nothing of it in memory.
        await fx.RestartRulesAsync();
        var crossing = MetricEvent(c, run, 2, values[1]);
        var crossingId = await SendAsync(c, crossing);
        await HandledAsync(c, crossingId);
        Assert.True(await RunsAsync(automation) == 1, "step 2 crosses only with step 1, from before the restart: missed crossing");
        await OutcomesAsync(c, automation, [Metric(c, run, first)]);

        // The same event again (same eventId), the same message handed to Rules again, the same step under a new eventId.
        await SendCopyAsync(c, crossing);
        await RedeliverToRulesAsync(crossingId);
        await HandledAsync(c, await SendAsync(c, MetricEvent(c, run, 2, values[1])));
        Assert.Equal(1, await RunsAsync(automation));

        // Restarted while the condition holds: the next value keeps it holding and must not fire again.
        await fx.RestartRulesAsync();
        await Step(3);
        Assert.True(await RunsAsync(automation) == 1, "step 3 keeps the condition holding: double fire");
        await Step(4);
        await Step(5);
        Assert.True(await RunsAsync(automation) == 2, "step 4 ends the crossing and step 5 starts a new one: it fires again");
        await NothingElseReachedRulesAsync(c, run);
        Assert.Equal(2, await RunsAsync(automation));
        await OutcomesAsync(c, automation, [Metric(c, run, first), Metric(c, run, second)]);
    }

    private static Fired Metric(Case c, string run, string value) => new(RunEventTypes.RunMetric, "", run, "", value);

    private static readonly DateTimeOffset At = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);

    private static Event Json(string eventId, string eventType, object body, string? runId = null) => new(eventId, eventType, JsonSerializer.Serialize(body), runId);

    private static (Event, Fired) ArtifactEvent(Case c)
    {
        var eventId = Guid.NewGuid().ToString();
        var alias = c.Trigger == EventTypes.AddArtifactAlias ? "production" : null;
        var e = Json(eventId, c.Trigger, new
        {
            eventId, eventType = c.Trigger, entity = "acme", project = c.Project, collection = "models", versionId = "QXJ0aWZhY3Q6NDI=",
            versionIndex = 4, alias, author = "jane", occurredAt = At,
        });
        return (e, new Fired(c.Trigger, $"acme/{c.Project}/models:{alias ?? "v4"}", "", "", ""));
    }

    private static (Event, Fired) StateEvent(Case c)
    {
        var eventId = Guid.NewGuid().ToString();
        var run = "run" + Guid.NewGuid().ToString("N")[..8];
        var e = Json(eventId, RunEventTypes.RunState, new
        {
            eventId, eventType = RunEventTypes.RunState, entity = "acme", project = c.Project, runId = run, runName = "glad-sky-7", user = "jane",
            state = "finished", occurredAt = At,
        }, run);
        return (e, new Fired(RunEventTypes.RunState, "", run, "finished", ""));
    }

    private static Event MetricEvent(Case c, string run, long step, double value)
    {
        var eventId = Guid.NewGuid().ToString();
        return Json(eventId, RunEventTypes.RunMetric, new
        {
            eventId, eventType = RunEventTypes.RunMetric, entity = "acme", project = c.Project, runId = run, runName = "bright-owl-3", user = "jane",
            step, metrics = new Dictionary<string, double> { ["loss"] = value }, occurredAt = At.AddSeconds(step),
        }, run);
    }

    private static object TriggerOf(string trigger) => trigger switch
    {
        EventTypes.CreateArtifact or EventTypes.LinkArtifact => new { type = trigger, collection = "models" },
        EventTypes.AddArtifactAlias => new { type = trigger, collection = "models", aliasRegex = "^production$" },
        RunEventTypes.RunState => new { type = trigger, state = "finished" },
        RunEventTypes.RunMetricThreshold => new { type = trigger, metric = new { name = "loss", agg = "AVERAGE", window = 2, cmp = ">", threshold = 0.8 } },
        RunEventTypes.RunMetricChange => new
        {
            type = trigger,
            metric = new { name = "loss", agg = "AVERAGE", window = 1, priorWindow = 1, changeType = "ABSOLUTE", changeDir = "INCREASE", changeAmount = 1.0 },
        },
        _ => throw new ArgumentOutOfRangeException(nameof(trigger), trigger, "no end-to-end case knows this trigger"),
    };

    private async Task<Guid> CreateAutomationAsync(Case c)
    {
        using var api = fx.ApiClient();
        async Task<Guid> Post(string path, object body)
        {
            using var response = await api.PostAsJsonAsync(path, body);
            Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        }

        object action;
        switch (c.Action)
        {
            case ActionTypes.Webhook:
                await Post("/v1/entities/acme/webhooks", new { name = c.Name, url = fx.Receiver.Url(c.Path), secret = ActionMatrixFixture.SigningSecretName });
                action = new { type = ActionTypes.Webhook, webhook = c.Name, payload = Payload };
                break;
            case IntegrationKinds.Slack or IntegrationKinds.Teams:
                await Post("/v1/entities/acme/integrations", new { name = c.Name, kind = c.Action, url = fx.Receiver.Url(c.Path) });
                action = new { type = ActionTypes.Notification, integration = c.Name, title = Title, text = Text };
                break;
            case ActionTypes.Launch:
                c.QueueId = await Post("/v1/entities/acme/queues", new { name = c.Name });
                action = new
                {
                    type = ActionTypes.Launch, job = ActionMatrixFixture.Job, jobVersion = 1, queue = c.Name, targetProject = "matrix-target",
                    overrides = new
                    {
                        type = "${event_type}", automation = "${automation_name}", version = "${artifact_version_string}", run = "${run_id}",
                        state = "${run_state}", value = "${metric_value}",
                    },
                };
                break;
            case ActionTypes.NoOp:
                action = new { type = ActionTypes.NoOp };
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(c), c.Action, "no end-to-end case knows this action");
        }
        var id = await Post($"/v1/entities/acme/projects/{c.Project}/automations", new { name = c.Name, @event = TriggerOf(c.Trigger), action });
        await fx.RulesSawChangeAsync(id);
        return id;
    }

    /// <summary>Sends the event as a producer, over the case's channel; answers Ingestion's id (the message id Rules sees).</summary>
    private async Task<Guid> SendAsync(Case c, Event e)
    {
        if (c.Channel == Http)
        {
            var (id, duplicate) = await PostAsync(e);
            Assert.False(duplicate, $"{e.EventId} is new");
            c.Sent.Add(id);
            return id;
        }
        await fx.PublishRawAsync(e.EventType, e.Json);
        Guid? stored = null;
        await Eventually.TrueAsync(async () => (stored = await StoredIdAsync(e.EventId)) is not null, $"Ingestion stores {e.EventId} from AMQP", TimeSpan.FromSeconds(60));
        c.Sent.Add(stored!.Value);
        return stored.Value;
    }

    /// <summary>
    /// A last event of the case's project that fires nothing (an unwatched collection; a run entering "running"), sent
    /// after the copies over the same channel and handled by the same Rules consumer (for a run, in the run's order):
    /// once Rules has handled it, the messages it consumed for the project are exactly those of the events the case sent.
    /// A copy that Ingestion passed on under a new id would be one more.
    /// </summary>
    private async Task NothingElseReachedRulesAsync(Case c, string? run)
    {
        var eventId = Guid.NewGuid().ToString();
        var last = run is null
            ? Json(eventId, EventTypes.CreateArtifact, new
            {
                eventId, eventType = EventTypes.CreateArtifact, entity = "acme", project = c.Project, collection = "unwatched", versionIndex = 9, occurredAt = At,
            })
            : Json(eventId, RunEventTypes.RunState, new
            {
                eventId, eventType = RunEventTypes.RunState, entity = "acme", project = c.Project, runId = run, state = "running", occurredAt = At.AddMinutes(1),
            }, run);
        var id = await SendAsync(c, last);
        await HandledAsync(run is null ? ArtifactEventConsumerDefinition.InboxName : RunEventConsumerDefinition.InboxName, id);
        await Eventually.TrueAsync(() => Task.FromResult(fx.ConsumedByRules.ContainsKey(id)), $"Rules consumed {id}");
        var consumed = fx.ConsumedByRules.Where(m => m.Value.Message is ArtifactEventReceived { Project: var p } && p == c.Project
            || m.Value.Message is RunEventReceived { Project: var q } && q == c.Project).Select(m => m.Key).ToHashSet();
        Assert.True(consumed.SetEquals(c.Sent), $"Rules consumed [{string.Join(", ", consumed.Except(c.Sent))}] beyond the events sent");
    }

    private async Task<(Guid Id, bool Duplicate)> PostAsync(Event e)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = new StringContent(e.Json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.AdminKey);
        using var response = await fx.Ingestion.Client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (answer.GetProperty("id").GetGuid(), answer.GetProperty("duplicate").GetBoolean());
    }

    private async Task<Guid?> StoredIdAsync(string eventId)
    {
        await using var db = await fx.DataSource.OpenConnectionAsync();
        return await db.QuerySingleOrDefaultAsync<Guid?>("select id from ingestion.events where entity = 'acme' and event_id = @eventId", new { eventId });
    }

    /// <summary>The same event (same eventId) again over the same channel: Ingestion knows it and passes nothing on.</summary>
    private async Task SendCopyAsync(Case c, Event e)
    {
        if (c.Channel == Http)
            Assert.True((await PostAsync(e)).Duplicate, $"{e.EventId} again is a duplicate");
        else
        {
            // Ingestion takes AMQP messages one at a time: the next count it makes is this copy's.
            using var duplicates = fx.Ingestion.Metric<long>("automations.events.duplicates");
            using var accepted = fx.Ingestion.Metric<long>("automations.events.accepted");
            await fx.PublishRawAsync(e.EventType, e.Json);
            await Eventually.TrueAsync(() => Task.FromResult(duplicates.GetMeasurementSnapshot().Count + accepted.GetMeasurementSnapshot().Count > 0),
                $"Ingestion takes {e.EventId} from AMQP again", TimeSpan.FromSeconds(60));
            Assert.True((duplicates.GetMeasurementSnapshot().Count, accepted.GetMeasurementSnapshot().Count) == (1, 0), $"{e.EventId} again over AMQP is a duplicate");
        }
        await using var db = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await db.ExecuteScalarAsync<int>("select count(*) from ingestion.events where entity = 'acme' and event_id = @eventId", new { eventId = e.EventId }));
    }

    /// <summary>Hands Rules the message it consumed as <paramref name="messageId"/> once more, as the broker does after a lost ack.</summary>
    private async Task RedeliverToRulesAsync(Guid messageId)
    {
        await Eventually.TrueAsync(() => Task.FromResult(fx.ConsumedByRules.ContainsKey(messageId)), $"Rules consumed {messageId}");
        var bus = fx.Rules.Services.GetRequiredService<IBus>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        switch (fx.ConsumedByRules[messageId].Message)
        {
            case ArtifactEventReceived a: await bus.Publish(a, p => p.MessageId = messageId, cts.Token); break;
            case RunEventReceived r: await bus.Publish(r, p => p.MessageId = messageId, cts.Token); break;
        }
        await Eventually.TrueAsync(() => Task.FromResult(fx.ConsumedByRules[messageId].Times >= 2), $"Rules consumed {messageId} a second time", TimeSpan.FromSeconds(60));
    }

    /// <summary>Waits until Rules has committed its handling of the message: its inbox mark is there.</summary>
    private Task HandledAsync(Case c, Guid messageId) => HandledAsync(c.Consumer, messageId);

    private Task HandledAsync(string consumer, Guid messageId) =>
        Eventually.TrueAsync(async () =>
        {
            await using var db = await fx.DataSource.OpenConnectionAsync();
            return await db.ExecuteScalarAsync<bool>("select exists (select from rules.inbox where consumer = @consumer and message_id = @messageId)",
                new { consumer, messageId });
        }, $"Rules handled message {messageId}", TimeSpan.FromSeconds(60));

    private async Task<int> RunsAsync(Guid automationId)
    {
        await using var db = await fx.DataSource.OpenConnectionAsync();
        return await db.ExecuteScalarAsync<int>("select count(*) from rules.runs where automation_id = @automationId", new { automationId });
    }

    /// <summary>
    /// Exactly <paramref name="fired"/>, in order, came out of the case's action, and nothing else: every run has ended
    /// (its delivery or queue item done), then the receiver, the delivery log and the queue hold one entry per firing.
    /// </summary>
    private async Task OutcomesAsync(Case c, Guid automation, IReadOnlyList<Fired> fired)
    {
        var done = c.Action == ActionTypes.Launch ? new[] { RunStatus.Enqueued, RunStatus.Finished } : [RunStatus.Finished];
        List<(string Status, string? Reason, string? Payload)> runs = [];
        await Eventually.TrueAsync(async () =>
        {
            await using var db = await fx.DataSource.OpenConnectionAsync();
            runs = (await db.QueryAsync<(string, string?, string?)>("select status, reason, payload from rules.runs where automation_id = @automation order by created_at",
                new { automation })).AsList();
            return runs.Count == fired.Count && runs.All(r => done.Contains(r.Status));
        }, $"{fired.Count} run(s) of {c.Name} have ended", TimeSpan.FromSeconds(60));

        await using var c2 = await fx.DataSource.OpenConnectionAsync();
        var deliveries = await c2.ExecuteScalarAsync<int>("select count(*) from delivery.deliveries where automation_id = @automation", new { automation });
        var items = await c2.ExecuteScalarAsync<int>("select count(*) from launch.queue_items where automation_id = @automation", new { automation });
        var requests = fx.Receiver.On(c.Path);
        switch (c.Action)
        {
            case ActionTypes.Webhook:
                Assert.Equal((fired.Count, fired.Count, 0), (requests.Count, deliveries, items));
                for (var i = 0; i < fired.Count; i++) CheckWebhook(c, requests[i], fired[i]);
                Assert.Equal(fired.Count, requests.Select(r => r.Header("webhook-id")).Distinct().Count());
                break;
            case IntegrationKinds.Slack:
                Assert.Equal((fired.Count, fired.Count, 0), (requests.Count, deliveries, items));
                for (var i = 0; i < fired.Count; i++) CheckSlack(c, requests[i], fired[i]);
                break;
            case IntegrationKinds.Teams:
                Assert.Equal((fired.Count, fired.Count, 0), (requests.Count, deliveries, items));
                for (var i = 0; i < fired.Count; i++) CheckTeams(c, requests[i], fired[i]);
                break;
            case ActionTypes.Launch:
                Assert.Equal((0, 0, fired.Count), (requests.Count, deliveries, items));
                await ClaimAsync(c, fired);
                break;
            case ActionTypes.NoOp:
                Assert.Equal((0, 0, 0), (requests.Count, deliveries, items));
                Assert.All(runs, r =>
                {
                    Assert.StartsWith("no-op", r.Reason, StringComparison.Ordinal);
                    Assert.Null(r.Payload);
                });
                break;
        }
    }

    private static void CheckWebhook(Case c, Receiver.Request request, Fired fired)
    {
        using var body = JsonDocument.Parse(request.Body);
        var p = body.RootElement;
        Assert.Equal((fired.EventType, c.Name, c.Project, fired.Version, fired.Run, fired.State, fired.Value),
            (p.GetProperty("type").GetString(), p.GetProperty("automation").GetString(), p.GetProperty("project").GetString(), p.GetProperty("version").GetString(),
             p.GetProperty("run").GetString(), p.GetProperty("state").GetString(), p.GetProperty("value").GetString()));
        // Signed as W&B does (X-Wandb-Signature) and as Standard Webhooks does, with the team secret.
        var key = Encoding.UTF8.GetBytes(PipelineFixture.SigningSecret);
        Assert.Equal(Convert.ToBase64String(HMACSHA256.HashData(key, request.Body)), request.Header("x-wandb-signature"));
        var signed = Encoding.UTF8.GetBytes($"{request.Header("webhook-id")}.{request.Header("webhook-timestamp")}.").Concat(request.Body).ToArray();
        Assert.Equal("v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed)), request.Header("webhook-signature"));
    }

    private static void CheckSlack(Case c, Receiver.Request request, Fired fired)
    {
        using var body = JsonDocument.Parse(request.Body);
        var m = body.RootElement;
        var header = $":information_source: {fired.Title(c)}";
        Assert.Equal(header, m.GetProperty("text").GetString());
        var blocks = m.GetProperty("blocks");
        Assert.Equal(("header", header), (blocks[0].GetProperty("type").GetString(), blocks[0].GetProperty("text").GetProperty("text").GetString()));
        Assert.Equal(("section", fired.Text), (blocks[1].GetProperty("type").GetString(), blocks[1].GetProperty("text").GetProperty("text").GetString()));
        Assert.Equal($":information_source: *INFO* · {c.Name} · acme/{c.Project}", blocks[2].GetProperty("elements")[0].GetProperty("text").GetString());
        Assert.Null(request.Header("x-wandb-signature"));
    }

    private static void CheckTeams(Case c, Receiver.Request request, Fired fired)
    {
        using var body = JsonDocument.Parse(request.Body);
        var m = body.RootElement;
        Assert.Equal(("message", fired.Title(c)), (m.GetProperty("type").GetString(), m.GetProperty("summary").GetString()));
        var attachment = m.GetProperty("attachments")[0];
        Assert.Equal("application/vnd.microsoft.card.adaptive", attachment.GetProperty("contentType").GetString());
        var card = attachment.GetProperty("content").GetProperty("body");
        Assert.Equal((fired.Title(c), fired.Text), (card[0].GetProperty("text").GetString(), card[1].GetProperty("text").GetString()));
        Assert.Equal($"{c.Name} · acme/{c.Project}", card[2].GetProperty("facts")[1].GetProperty("value").GetString());
        Assert.Null(request.Header("x-wandb-signature"));
    }

    /// <summary>An agent claims the case's queue until it holds one item per firing; then the queue has nothing more.</summary>
    private async Task ClaimAsync(Case c, IReadOnlyList<Fired> fired)
    {
        using var agent = new HttpClient { BaseAddress = fx.Launch.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", fx.AgentKey);
        while (c.Claimed.Count < fired.Count)
        {
            using var claim = await agent.PostAsync($"/v1/agent/queues/{c.QueueId}/claim?wait=20", null);
            Assert.True(claim.StatusCode == HttpStatusCode.OK, $"claim #{c.Claimed.Count + 1}: {(int)claim.StatusCode} {await claim.Content.ReadAsStringAsync()}");
            c.Claimed.Add(await claim.Content.ReadFromJsonAsync<JsonElement>());
        }
        using (var none = await agent.PostAsync($"/v1/agent/queues/{c.QueueId}/claim?wait=0", null))
            Assert.Equal(HttpStatusCode.NoContent, none.StatusCode);
        for (var i = 0; i < fired.Count; i++)
        {
            var config = c.Claimed[i].GetProperty("config");
            Assert.Equal((3, fired[i].EventType, c.Name, fired[i].Version, fired[i].Run, fired[i].State, fired[i].Value),
                (config.GetProperty("epochs").GetInt32(), config.GetProperty("type").GetString(), config.GetProperty("automation").GetString(),
                 config.GetProperty("version").GetString(), config.GetProperty("run").GetString(), config.GetProperty("state").GetString(),
                 config.GetProperty("value").GetString()));
            Assert.Equal("matrix-target", c.Claimed[i].GetProperty("targetProject").GetString());
        }
    }
}
