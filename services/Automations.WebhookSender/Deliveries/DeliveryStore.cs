using System.Diagnostics;
using System.Text.Json;
using Automations.Contracts;
using Automations.Persistence.Writes;
using Automations.WebhookSender.Sending;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.WebhookSender.Deliveries;

/// <summary>A delivery this process holds a claim on: only the holder of <see cref="Claim"/> may record its next attempt.</summary>
public sealed record WorkItem(Guid DeliveryId, Guid WebhookId, Guid Claim)
{
    /// <summary>The delivery as stored with the claim (a fresh command): its first attempt needs no second read while the claim is young.</summary>
    public ClaimedDelivery? Loaded { get; init; }
    /// <summary>When the claim (and its lease) was taken, in <see cref="Environment.TickCount64"/> milliseconds.</summary>
    public long ClaimedAt { get; init; } = Environment.TickCount64;
}

/// <summary>A claimed delivery, loaded for its attempt.</summary>
public sealed class ClaimedDelivery
{
    public Guid Id { get; set; }
    public Guid CommandId { get; set; }
    public Guid RunId { get; set; }
    public Guid WebhookId { get; set; }
    public Guid AutomationId { get; set; }
    public string Entity { get; set; } = "";
    public string Project { get; set; } = "";
    public DateTime OccurredAt { get; set; }
    public string Payload { get; set; } = "";
    public int PayloadFormat { get; set; }
    public int Attempts { get; set; }
    public int MaxAttempts { get; set; }
    public bool Manual { get; set; }
    public string? Traceparent { get; set; }
}

/// <summary>The delivery schema: deliveries, their claims and schedule, attempts, outcomes (published through the outbox).</summary>
public sealed class DeliveryStore(NpgsqlDataSource dataSource, IOptions<WebhookOptions> options, [FromKeyedServices(Extensions.Schema)] Writes writes)
{
    public const string Schema = Extensions.Schema;
    private readonly WebhookOptions _options = options.Value;

    /// <summary>
    /// Stores the delivery for a command, already claimed by the caller (or, with <paramref name="claimed"/> false,
    /// unclaimed and due now, for the scheduler); null when the command was seen before or the delivery is unclaimed.
    /// </summary>
    public async Task<WorkItem?> CreateAsync(SendWebhook command, bool claimed, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        Guid? claim = claimed ? Guid.NewGuid() : null;
        var maxAttempts = _options.Schedule().MaxAttempts;
        var traceparent = Activity.Current is { IdFormat: ActivityIdFormat.W3C } a ? a.Id : null;
        // One statement in the next group commit. The delivery is unique per command: a command seen before (the broker
        // redelivering it, the relay publishing a row the direct path had already sent) inserts nothing, so no inbox
        // row is needed (it was one more insert and two index entries per event).
        var w = writes.Begin();
        var made = w.Execute(
            """
            insert into delivery.deliveries (id, command_id, run_id, event_id, automation_id, entity, project, webhook_id, payload, payload_format, status,
                max_attempts, next_attempt_at, claim, traceparent, occurred_at, command_at)
            values (@id, @CommandId, @RunId, @EventId, @AutomationId, @Entity, @Project, @WebhookId, @Payload, @PayloadFormat, 'pending',
                @maxAttempts, case when @claim::uuid is null then now() else now() + @lease end, @claim, @traceparent, @OccurredAt, @commandAt)
            on conflict do nothing
            returning 1
            """,
            new
            {
                id, command.CommandId, command.RunId, command.EventId, command.AutomationId, command.Entity, command.Project, command.WebhookId,
                command.Payload, PayloadFormat = (short)command.PayloadFormat, maxAttempts, lease = _options.Lease, claim, traceparent,
                OccurredAt = command.OccurredAt.ToUniversalTime(), commandAt = CommandAt(command.CommandId),
            });
        var inserted = (await w.CommitAsync(ct)).Count(made);
        if (inserted != 1 || claim is not { } held) return null;
        return new WorkItem(id, command.WebhookId, held)
        {
            Loaded = new ClaimedDelivery
            {
                Id = id, CommandId = command.CommandId, RunId = command.RunId, WebhookId = command.WebhookId, AutomationId = command.AutomationId,
                Entity = command.Entity, Project = command.Project, OccurredAt = command.OccurredAt.UtcDateTime, Payload = command.Payload,
                PayloadFormat = command.PayloadFormat,
                Attempts = 0, MaxAttempts = maxAttempts, Manual = false, Traceparent = traceparent,
            },
        };
    }

    /// <summary>
    /// The partition key of a command's delivery: the time in its id (a UUIDv7, as Rules makes them), so a redelivered
    /// command lands in its first delivery's partition, whose unique command_id stops it. Not the command's occurredAt:
    /// that is the producer's time, which may be anything. Another id (not version 7, or a time ahead of the clock) uses
    /// now: such a command is deduplicated only while its copies land in one partition.
    /// </summary>
    internal static DateTimeOffset CommandAt(Guid commandId)
    {
        var now = DateTimeOffset.UtcNow;
        if (commandId.Version != 7) return now;
        var bytes = commandId.ToByteArray(bigEndian: true);
        long ms = 0;
        for (var i = 0; i < 6; i++) ms = (ms << 8) | bytes[i];
        var at = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        return at > now.AddMinutes(5) ? now : at;
    }

    /// <summary>Claims due deliveries (any replica's, FOR UPDATE SKIP LOCKED) for one lease, except those of <paramref name="busy"/> webhooks.</summary>
    public async Task<IReadOnlyList<WorkItem>> ClaimDueAsync(int limit, Guid[] busy, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<WorkRow>(new CommandDefinition(
            """
            update delivery.deliveries d set claim = gen_random_uuid(), next_attempt_at = now() + @lease, updated_at = now()
            from (select id from delivery.deliveries where status = 'pending' and next_attempt_at <= now() and webhook_id <> all(@busy)
                  order by next_attempt_at limit @limit for update skip locked) due
            where d.id = due.id
            returning d.id as DeliveryId, d.webhook_id as WebhookId, d.claim as Claim
            """, new { limit, busy, lease = _options.Lease }, cancellationToken: ct));
        return rows.Select(r => new WorkItem(r.DeliveryId, r.WebhookId, r.Claim)).ToList();
    }

    /// <summary>Renews the claim for a fresh lease and loads the delivery; null when the claim was lost (another replica has it).</summary>
    public async Task<ClaimedDelivery?> StartAttemptAsync(WorkItem work, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<ClaimedDelivery>(new CommandDefinition(
            """
            update delivery.deliveries set next_attempt_at = now() + @lease, updated_at = now()
            where id = @DeliveryId and claim = @Claim and status = 'pending'
            returning id as Id, command_id as CommandId, run_id as RunId, webhook_id as WebhookId, automation_id as AutomationId, entity as Entity,
                      project as Project, occurred_at as OccurredAt, payload as Payload, payload_format as PayloadFormat,
                      attempts as Attempts, max_attempts as MaxAttempts, manual_pending as Manual, traceparent as Traceparent
            """, new { work.DeliveryId, work.Claim, lease = _options.Lease }, cancellationToken: ct));
    }

    public async Task<long> CountPendingAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "select count(*) from delivery.deliveries where status = 'pending'", cancellationToken: ct));
    }

    /// <summary>Gives a claim back without an attempt (shutdown): the delivery is due again at once, for any replica.</summary>
    public async Task ReleaseAsync(WorkItem work)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(
            "update delivery.deliveries set claim = null, next_attempt_at = now() where id = @DeliveryId and claim = @Claim and status = 'pending'",
            new { work.DeliveryId, work.Claim });
    }

    /// <summary>Gives several claims back without an attempt (the scheduler took more than a webhook has room for).</summary>
    public async Task ReleaseAsync(IReadOnlyList<WorkItem> works)
    {
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(
            """
            update delivery.deliveries d set claim = null, next_attempt_at = now()
            from unnest(@ids::uuid[], @claims::uuid[]) as w(id, claim)
            where d.id = w.id and d.claim = w.claim and d.status = 'pending'
            """,
            new { ids = works.Select(w => w.DeliveryId).ToArray(), claims = works.Select(w => w.Claim).ToArray() });
    }

    /// <summary>The sender's own view of a webhook: disabled after a 410, until an admin updates the webhook in control.</summary>
    public async Task<(DateTimeOffset DisabledAt, string Reason)?> FindDisabledAsync(Guid webhookId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<StateRow>(new CommandDefinition(
            "select disabled_at as DisabledAt, disabled_reason as DisabledReason from delivery.webhook_states where webhook_id = @webhookId",
            new { webhookId }, cancellationToken: ct));
        return row is null ? null : (new DateTimeOffset(DateTime.SpecifyKind(row.DisabledAt, DateTimeKind.Utc)), row.DisabledReason);
    }

    public enum Outcome { Succeeded, Retry, Failed, Gone }

    /// <summary>
    /// Records one attempt and moves the delivery on, with its outbox messages, in one statement (one round trip, one
    /// implicit transaction). Returns false when the claim was lost meanwhile (nothing is written then).
    /// </summary>
    public async Task<bool> RecordAsync(WorkItem work, ClaimedDelivery d, SendResult result, Outcome outcome, DateTimeOffset? nextAttemptAt, string? webhookEntity, CancellationToken ct)
    {
        var number = d.Attempts + 1;
        var now = DateTimeOffset.UtcNow;
        var status = outcome switch { Outcome.Succeeded => "succeeded", Outcome.Retry => "pending", _ => "failed" };
        var args = new
        {
            status, number, nextAttemptAt, result.StatusCode, result.Error, id = d.Id, work.Claim, d.Manual, result.StartedAt, result.DurationMs,
            headers = JsonSerializer.Serialize(result.ResponseHeaders), result.ResponseBody, result.ResponseTruncated,
        };
        // The delivery moves on only while the claim is still ours; everything else is written from its row.
        var w = writes.Begin();
        var moved = w.Execute(
            """
            update delivery.deliveries set status = @status, attempts = @number, claim = null, manual_pending = false,
                next_attempt_at = @nextAttemptAt, last_status_code = @StatusCode, last_error = @Error, updated_at = now(),
                completed_at = case when @status = 'pending' then null else now() end
            where id = @id and claim = @Claim and status = 'pending'
            returning id, command_at
            """, args);
        w.Execute(
            $"""
            insert into delivery.attempts (delivery_id, number, manual, started_at, duration_ms, status_code, response_headers, response_body,
                                           response_truncated, response_masked, error, next_attempt_at, command_at)
            select id, @number, @Manual, @StartedAt, @DurationMs, @StatusCode::int, @headers::jsonb, @ResponseBody::text,
                   @ResponseTruncated, true, @Error::text, @nextAttemptAt::timestamptz, command_at from {moved}
            """, args);
        switch (outcome)
        {
            case Outcome.Succeeded:
                // Successes, the bulk, travel to Rules together (one broker message per batch: the unit routes them to their batcher).
                w.Publish(new WebhookDeliveryCompleted(d.CommandId, d.RunId, d.Id, result.StatusCode ?? 0, number, now), when: moved);
                break;
            case Outcome.Gone:
                w.Execute(
                    $"""
                    insert into delivery.webhook_states (webhook_id, entity, disabled_at, disabled_reason) select @WebhookId, @Entity, now(), @reason from {moved}
                    on conflict (webhook_id) do update set disabled_at = now(), disabled_reason = @reason
                    """, new { d.WebhookId, d.Entity, reason = "the endpoint answered 410 Gone" });
                w.Publish(new WebhookDisabled(d.WebhookId, webhookEntity ?? d.Entity, "the endpoint answered 410 Gone", now), when: moved);
                w.Publish(new WebhookDeliveryFailed(d.CommandId, d.RunId, d.Id, "410 Gone: webhook disabled", 410, number, now), when: moved);
                break;
            case Outcome.Failed:
                w.Publish(new WebhookDeliveryFailed(d.CommandId, d.RunId, d.Id, result.Error ?? "failed", result.StatusCode, number, now), when: moved);
                break;
        }
        return (await w.CommitAsync(ct)).Count(moved) == 1;
    }

    /// <summary>
    /// One more attempt, due now, for a finished delivery (or every failed delivery of a webhook created in a range).
    /// Idempotent per request id. Returns how many deliveries were scheduled.
    /// </summary>
    public async Task<int> RedeliverAsync(RedeliverWebhook request, Guid messageId, CancellationToken ct)
    {
        await using var w = await writes.BeginTransactionAsync(ct);
        if (!await w.InboxAsync(RedeliverWebhookConsumerDefinition.InboxName, messageId, ct)) return 0;
        int count;
        if (request.DeliveryId is { } deliveryId)
        {
            count = await w.Connection.ExecuteAsync(new CommandDefinition(
                """
                update delivery.deliveries set status = 'pending', max_attempts = attempts + 1, manual_pending = true, claim = null,
                    next_attempt_at = now(), completed_at = null, updated_at = now()
                where id = @deliveryId and entity = @Entity and status in ('succeeded', 'failed')
                """, new { deliveryId, request.Entity }, w.Transaction, cancellationToken: ct));
        }
        else
        {
            count = await w.Connection.ExecuteAsync(new CommandDefinition(
                """
                update delivery.deliveries set status = 'pending', max_attempts = attempts + 1, manual_pending = true, claim = null,
                    next_attempt_at = now(), completed_at = null, updated_at = now()
                where webhook_id = @WebhookId and entity = @Entity and status = 'failed'
                  and created_at >= coalesce(@From, '-infinity'::timestamptz) and created_at < coalesce(@To, 'infinity'::timestamptz)
                """, new { request.WebhookId, request.Entity, From = request.From?.ToUniversalTime(), To = request.To?.ToUniversalTime() }, w.Transaction, cancellationToken: ct));
        }
        await w.CommitAsync(ct);
        return count;
    }

    private sealed class WorkRow
    {
        public Guid DeliveryId { get; set; }
        public Guid WebhookId { get; set; }
        public Guid Claim { get; set; }
    }

    private sealed class StateRow
    {
        public DateTime DisabledAt { get; set; }
        public string DisabledReason { get; set; } = "";
    }
}
