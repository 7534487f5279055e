using System.Text;
using Automations.Contracts;
using Automations.Core.Secrets;
using Automations.Core.Webhooks;
using Automations.Persistence.Control;
using Automations.Persistence.Outbox;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Automations.WebhookSender.Tests;

/// <summary>
/// A migrated database and vhost, a team "acme" with its secrets, a local receiver, and (unless a test starts its own)
/// the WebhookSender with a compressed retry schedule.
/// </summary>
public class SenderFixture : TestEnvironment
{
    public ServiceHost? Sender { get; private set; }
    public Receiver Receiver { get; private set; } = null!;
    public Guid EntityId { get; private set; }
    public string AdminKey { get; private set; } = "";
    /// <summary>The message ids the fixture's sender consumed: a repeated command absorbed leaves no other trace.</summary>
    public ConsumedMessages Consumed { get; } = new();
    public SecretCipher Cipher { get; } = SecretCipher.FromBase64(new Dictionary<string, string> { [TestMasterKeyId] = TestMasterKey }, TestMasterKeyId);

    protected virtual bool StartSender => true;

    /// <summary>The resolver the sender looks names up with; null: the system's.</summary>
    public virtual IHostResolver? Resolver => null;

    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        config["Webhooks:RetrySchedule"] = "00:00:01,00:00:01,00:00:01";
        config["Webhooks:Timeout"] = "00:00:05";
        config["Webhooks:SchedulerInterval"] = "00:00:00.200";
        return config;
    }

    public override async Task InitializeAsync()
    {
        LogCapture.Install();
        await base.InitializeAsync();
        var acme = await Bootstrap.CreateEntityWithAdminAsync(DataSource, "acme", "admin");
        EntityId = acme.EntityId;
        AdminKey = acme.ApiKey;
        Receiver = await Receiver.StartAsync();
        if (StartSender)
        {
            Sender = await StartSenderAsync();
            Sender.Services.GetRequiredService<MassTransit.IBus>().ConnectConsumeObserver(Consumed);
        }
    }

    public Task<ServiceHost> StartSenderAsync(IDictionary<string, string?>? overrides = null)
    {
        var config = ServiceConfiguration();
        foreach (var (k, v) in overrides ?? new Dictionary<string, string?>()) config[k] = v;
        return ServiceHost.StartAsync(args => Program.Build(args, services =>
        {
            if (Resolver is { } resolver) services.AddSingleton(resolver);
        }), config);
    }

    public override async Task DisposeAsync()
    {
        if (Sender is not null) await Sender.DisposeAsync();
        if (Receiver is not null) await Receiver.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>Stores a team secret the way the Api does (AES-GCM under the test master key).</summary>
    public async Task<Guid> AddSecretAsync(string name, string value)
    {
        var e = Cipher.Encrypt(EntityId, name, value);
        var id = Guid.NewGuid();
        await using var c = await DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            "insert into control.secrets (id, entity_id, name, key_id, nonce, ciphertext, tag) values (@id, @EntityId, @name, @KeyId, @Nonce, @Ciphertext, @Tag)",
            new { id, EntityId, name, e.KeyId, e.Nonce, e.Ciphertext, e.Tag });
        return id;
    }

    public async Task<Guid> AddWebhookAsync(string url, string? secret = null, string? accessToken = null)
    {
        var id = Guid.NewGuid();
        var tag = id.ToString("N")[..8].ToUpperInvariant();
        Guid? secretId = secret is null ? null : await AddSecretAsync("SIGNING_" + tag, secret);
        Guid? tokenId = accessToken is null ? null : await AddSecretAsync("TOKEN_" + tag, accessToken);
        await using var c = await DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            "insert into control.webhooks (id, entity_id, name, url, secret_id, access_token_secret_id) values (@id, @EntityId, @name, @url, @secretId, @tokenId)",
            new { id, EntityId, name = "hook-" + tag, url, secretId, tokenId });
        return id;
    }

    /// <summary>A command as Rules makes it: <paramref name="payload"/> sealed (`$$` a `$`, `${NAME}` a secret), unless told otherwise.</summary>
    public static SendWebhook Command(Guid webhookId, string payload = """{"event_type":"ADD_ARTIFACT_ALIAS","n":1}""", int format = SendWebhook.SealedPayload) =>
        new(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "acme", "mnist", webhookId, payload, DateTimeOffset.UtcNow, format);

    /// <summary>Publishes a command the way Rules does: an outbox row, relayed by the sender's own relay to the bus.</summary>
    public async Task PublishAsync(object message, Guid? messageId = null)
    {
        await using var c = await DataSource.OpenConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        await OutboxWriter.AddAsync(c, tx, "delivery", message.GetType(), message, messageId);
        await tx.CommitAsync();
    }

    public sealed class DeliveryRow
    {
        public Guid Id { get; set; }
        public string Status { get; set; } = "";
        public int Attempts { get; set; }
        public string? LastError { get; set; }
        public int? LastStatusCode { get; set; }
    }

    public sealed class AttemptRow
    {
        public int Number { get; set; }
        public bool Manual { get; set; }
        public DateTime StartedAt { get; set; }
        public int? StatusCode { get; set; }
        public string? Error { get; set; }
        public string? ResponseBody { get; set; }
        public string? ResponseHeaders { get; set; }
        public DateTime? NextAttemptAt { get; set; }
    }

    public async Task<DeliveryRow?> DeliveryAsync(Guid commandId)
    {
        await using var c = await DataSource.OpenConnectionAsync();
        return await c.QuerySingleOrDefaultAsync<DeliveryRow>(
            "select id, status, attempts, last_error as LastError, last_status_code as LastStatusCode from delivery.deliveries where command_id = @commandId", new { commandId });
    }

    public async Task<IReadOnlyList<AttemptRow>> AttemptsAsync(Guid deliveryId)
    {
        await using var c = await DataSource.OpenConnectionAsync();
        return (await c.QueryAsync<AttemptRow>(
            """
            select number, manual, started_at as StartedAt, status_code as StatusCode, error, response_body as ResponseBody,
                   response_headers::text as ResponseHeaders, next_attempt_at as NextAttemptAt
            from delivery.attempts where delivery_id = @deliveryId order by number
            """, new { deliveryId })).AsList();
    }

    /// <summary>A pending delivery stored unclaimed and due now, as a replica that parked it would leave it: only the scheduler sends it.</summary>
    public async Task InsertDueDeliveryAsync(SendWebhook command)
    {
        await using var c = await DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into delivery.deliveries (id, command_id, run_id, event_id, automation_id, entity, project, webhook_id, payload, status,
                attempts, max_attempts, next_attempt_at, occurred_at)
            values (@id, @CommandId, @RunId, @EventId, @AutomationId, @Entity, @Project, @WebhookId, @Payload, 'pending', 0, 4, now(), now())
            """, new { id = Guid.CreateVersion7(), command.CommandId, command.RunId, command.EventId, command.AutomationId, command.Entity, command.Project, command.WebhookId, command.Payload });
    }

    /// <summary>
    /// Whether the command's delivery is over for good: succeeded or failed, no claim, nothing scheduled. No process
    /// sends it again then, so what the receiver has is all it will get.
    /// </summary>
    public async Task<bool> SettledAsync(Guid commandId)
    {
        await using var c = await DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<bool>(
            "select exists (select 1 from delivery.deliveries where command_id = @commandId and status <> 'pending' and claim is null and next_attempt_at is null)",
            new { commandId });
    }

    /// <summary>Waits until the command's delivery succeeded or failed, and returns it.</summary>
    public async Task<DeliveryRow> WaitForOutcomeAsync(Guid commandId, TimeSpan? timeout = null)
    {
        DeliveryRow? row = null;
        await Eventually.TrueAsync(async () => (row = await DeliveryAsync(commandId))?.Status is "succeeded" or "failed",
            $"delivery of command {commandId} succeeded or failed", timeout ?? TimeSpan.FromSeconds(30));
        return row!;
    }

    public async Task<DeliveryRow> WaitForStatusAsync(Guid commandId, string status, TimeSpan? timeout = null)
    {
        DeliveryRow? row = null;
        try
        {
            await Eventually.TrueAsync(async () => (row = await DeliveryAsync(commandId))?.Status == status,
                $"delivery of command {commandId} is {status}", timeout ?? TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message} (last seen: {row?.Status ?? "no row"} after {row?.Attempts} attempts, {row?.LastError})", ex);
        }
        return row!;
    }
}

/// <summary>Everything written to the console (where the services' JSON logs go) since the first fixture started.</summary>
public static class LogCapture
{
    private static readonly object Gate = new();
    private static StringWriter? _copy;

    public static void Install()
    {
        lock (Gate)
        {
            if (_copy is not null) return;
            _copy = new StringWriter();
            Console.SetOut(TextWriter.Synchronized(new Tee(Console.Out, _copy)));
        }
    }

    public static string Text
    {
        get { lock (Gate) return _copy?.ToString() ?? ""; }
    }

    private sealed class Tee(TextWriter a, StringWriter b) : TextWriter
    {
        public override Encoding Encoding => a.Encoding;
        public override void Write(char value) { a.Write(value); lock (Gate) b.Write(value); }
        public override void Write(string? value) { a.Write(value); lock (Gate) b.Write(value); }
        public override void Write(char[] buffer, int index, int count) { a.Write(buffer, index, count); lock (Gate) b.Write(buffer, index, count); }
        public override void WriteLine(string? value) { a.WriteLine(value); lock (Gate) b.WriteLine(value); }
        public override void Flush() => a.Flush();
    }
}
