using System.Diagnostics;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core;
using Automations.Persistence;
using Automations.Persistence.Writes;
using Automations.WebhookSender.Alerts;
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
    /// <summary>
    /// A delivery not stored yet, sent while its command's broker message is held (<see cref="WebhookOptions.MaxInlineAttempts"/>):
    /// its outcome is recorded by inserting the row, and it has no claim.
    /// </summary>
    public SendWebhook? Unstored { get; init; }
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
    /// <summary>The row's partition key: statements that name it touch one partition of delivery.deliveries, not all of them.</summary>
    public DateTime CommandAt { get; set; }
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
        var id = DeliveryId(command);
        Guid? claim = claimed ? Guid.NewGuid() : null;
        var maxAttempts = _options.Schedule().MaxAttempts;
        var commandAt = CommandAt(command.CommandId);
        var traceparent = Traceparent();
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
                OccurredAt = command.OccurredAt.ToUniversalTime(), commandAt,
            });
        var inserted = (await w.CommitAsync(ct)).Count(made);
        if (inserted != 1 || claim is not { } held) return null;
        return new WorkItem(id, command.WebhookId, held) { Loaded = Loaded(command, maxAttempts, traceparent, commandAt) };
    }

    /// <summary>
    /// A command's delivery to send before it is stored (<see cref="WebhookOptions.MaxInlineAttempts"/>); null when the
    /// command was seen before (its delivery exists). One read on one partition: the insert that records the outcome is
    /// unique per command as well, but by then the request would have gone out twice.
    /// </summary>
    public async Task<WorkItem?> UnstoredAsync(SendWebhook command, CancellationToken ct)
    {
        var commandAt = CommandAt(command.CommandId);
        // A command id that names its time (as Rules makes them) names the one partition to look in; another is looked
        // for in all of them. The read goes with the next group commit, sharing its round trip with the writes queued then.
        var w = writes.Begin();
        var seen = UuidV7.TimeOf(command.CommandId) == commandAt
            ? w.Execute("select 1 from delivery.deliveries where command_id = @CommandId and command_at = @commandAt limit 1", new { command.CommandId, commandAt })
            : w.Execute("select 1 from delivery.deliveries where command_id = @CommandId limit 1", new { command.CommandId });
        if ((await w.CommitAsync(ct)).Count(seen) > 0) return null;
        return new WorkItem(DeliveryId(command), command.WebhookId, Guid.Empty)
        {
            Unstored = command,
            Loaded = Loaded(command, _options.Schedule().MaxAttempts, Traceparent(), commandAt),
        };
    }

    /// <summary>
    /// A command's delivery id, which is also the `webhook-id` its endpoint sees: the command's own id, so that a command
    /// sent and then handled again (its process died before the outcome was stored) goes out with the same webhook-id.
    /// </summary>
    private static Guid DeliveryId(SendWebhook command) => command.CommandId;

    private static string? Traceparent() => Activity.Current is { IdFormat: ActivityIdFormat.W3C } a ? a.Id : null;

    private static ClaimedDelivery Loaded(SendWebhook command, int maxAttempts, string? traceparent, DateTimeOffset commandAt) => new()
    {
        Id = DeliveryId(command), CommandId = command.CommandId, RunId = command.RunId, WebhookId = command.WebhookId, AutomationId = command.AutomationId,
        Entity = command.Entity, Project = command.Project, OccurredAt = command.OccurredAt.UtcDateTime, Payload = command.Payload,
        PayloadFormat = command.PayloadFormat,
        Attempts = 0, MaxAttempts = maxAttempts, Manual = false, Traceparent = traceparent, CommandAt = commandAt.UtcDateTime,
    };

    /// <summary>
    /// The partition key of a command's delivery: the time in its id (a UUIDv7, as Rules makes them), so a redelivered
    /// command lands in its first delivery's partition, whose unique command_id stops it. Not the command's occurredAt:
    /// that is the producer's time, which may be anything. Another id (not version 7, or a time ahead of the clock) uses
    /// now: such a command is deduplicated only while its copies land in one partition.
    /// </summary>
    internal static DateTimeOffset CommandAt(Guid commandId)
    {
        var now = DateTimeOffset.UtcNow;
        return UuidV7.TimeOf(commandId) is { } at && at <= now.AddMinutes(5) ? at : now;
    }

    /// <summary>Claims due deliveries (any replica's, FOR UPDATE SKIP LOCKED) for one lease, except those of <paramref name="busy"/> webhooks.</summary>
    public async Task<IReadOnlyList<WorkItem>> ClaimDueAsync(int limit, Guid[] busy, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // Planned once per connection (PlanCache): it runs several times a second, even idle, and a custom plan for it
        // covers every partition of deliveries twice.
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition(PlanCache.GenericInTransaction, transaction: tx, cancellationToken: ct));
        var rows = await connection.QueryAsync<WorkRow>(new CommandDefinition(
            """
            update delivery.deliveries d set claim = gen_random_uuid(), next_attempt_at = now() + @lease, updated_at = now()
            from (select id from delivery.deliveries where status = 'pending' and next_attempt_at <= now() and webhook_id <> all(@busy)
                  order by next_attempt_at limit @limit for update skip locked) due
            where d.id = due.id
            returning d.id as DeliveryId, d.webhook_id as WebhookId, d.claim as Claim
            """, new { limit, busy, lease = _options.Lease }, tx, cancellationToken: ct));
        await tx.CommitAsync(ct);
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
                      attempts as Attempts, max_attempts as MaxAttempts, manual_pending as Manual, traceparent as Traceparent,
                      command_at as CommandAt
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

    /// <summary>
    /// The sender's own view of a webhook: disabled after a 410 or a long failure (until an admin updates the webhook in
    /// control), and its open incident (docs/alerts.md), in one read.
    /// </summary>
    public async Task<WebhookState> FindStateAsync(Guid webhookId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleAsync<StateRow>(new CommandDefinition(
            """
            select s.disabled_at as DisabledAt, s.disabled_reason as DisabledReason,
                   (select i.id from delivery.incidents i where i.webhook_id = @webhookId and i.closed_at is null) as OpenIncident
            from (select 1) one left join delivery.webhook_states s on s.webhook_id = @webhookId
            """, new { webhookId }, cancellationToken: ct));
        return new WebhookState(
            row.DisabledAt is { } at ? (new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)), row.DisabledReason ?? "") : null,
            row.OpenIncident);
    }

    /// <summary>
    /// Retention of the alert tables (docs/alerts.md): incidents closed longer ago than <paramref name="keep"/>, and the
    /// health rows of webhooks healthy (or gone) that long. One incident per failure episode is few rows: no partitions.
    /// </summary>
    public async Task<long> SweepHealthAsync(TimeSpan keep, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            """
            with closed as (delete from delivery.incidents where closed_at < now() - @keep returning 1),
                 healthy as (delete from delivery.webhook_health where failing_since is null and updated_at < now() - @keep returning 1)
            select (select count(*) from closed) + (select count(*) from healthy)
            """, new { keep }, cancellationToken: ct));
    }

    public async Task<long> CountOpenIncidentsAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "select count(*) from delivery.incidents where closed_at is null", cancellationToken: ct));
    }

    public enum Outcome { Succeeded, Retry, Failed, Gone }

    /// <summary>
    /// Records one attempt and moves the delivery on, with its outbox messages, in one statement (one round trip, one
    /// implicit transaction). Returns false when the claim was lost meanwhile (nothing is written then).
    /// </summary>
    /// <param name="health">
    /// what the attempt means for its webhook's health (docs/alerts.md); null when it does not count (an alert delivery, a
    /// webhook deleted or disabled).
    /// </param>
    public async Task<Recorded> RecordAsync(WorkItem work, ClaimedDelivery d, SendResult result, Outcome outcome, DateTimeOffset? nextAttemptAt, string? webhookEntity,
        HealthInput? health, CancellationToken ct)
    {
        var alert = d.AutomationId == AlertDelivery.AutomationId;
        var number = d.Attempts + 1;
        var now = DateTimeOffset.UtcNow;
        var status = outcome switch { Outcome.Succeeded => "succeeded", Outcome.Retry => "pending", _ => "failed" };
        var args = new
        {
            status, number, nextAttemptAt, result.StatusCode, result.Error, id = d.Id, commandAt = DateTime.SpecifyKind(d.CommandAt, DateTimeKind.Utc),
            work.Claim, d.Manual, result.StartedAt, result.DurationMs,
            headers = JsonSerializer.Serialize(result.ResponseHeaders), result.ResponseBody, result.ResponseTruncated,
        };
        // The delivery moves on only while the claim is still ours; everything else is written from its row. Its partition
        // key narrows the update to one partition: by id alone PostgreSQL would open and probe every partition the
        // retention keeps (a month of them), for every attempt. A delivery sent before it was stored is inserted here,
        // outcome and all, unless its command was stored meanwhile (a copy handled by another replica).
        var w = writes.Begin();
        var moved = work.Unstored is { } command ? w.Execute(
            """
            insert into delivery.deliveries (id, command_id, run_id, event_id, automation_id, entity, project, webhook_id, payload, payload_format,
                status, attempts, max_attempts, next_attempt_at, last_status_code, last_error, traceparent, occurred_at, command_at, completed_at)
            values (@id, @CommandId, @RunId, @EventId, @AutomationId, @Entity, @Project, @WebhookId, @Payload, @PayloadFormat,
                @status, @number, @maxAttempts, @nextAttemptAt, @StatusCode, @Error, @traceparent, @OccurredAt, @commandAt,
                case when @status = 'pending' then null else now() end)
            on conflict do nothing
            returning id, command_at
            """,
            new
            {
                id = d.Id, command.CommandId, command.RunId, command.EventId, command.AutomationId, command.Entity, command.Project, command.WebhookId,
                command.Payload, PayloadFormat = (short)command.PayloadFormat, status, number, maxAttempts = d.MaxAttempts, nextAttemptAt,
                result.StatusCode, result.Error, traceparent = d.Traceparent, OccurredAt = command.OccurredAt.ToUniversalTime(), args.commandAt,
            }) : w.Execute(
            """
            update delivery.deliveries set status = @status, attempts = @number, claim = null, manual_pending = false,
                next_attempt_at = @nextAttemptAt, last_status_code = @StatusCode, last_error = @Error, updated_at = now(),
                completed_at = case when @status = 'pending' then null else now() end
            where id = @id and command_at = @commandAt and claim = @Claim and status = 'pending'
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
            case Outcome.Succeeded when alert:
                break;
            case Outcome.Succeeded:
                // Successes, the bulk, travel to Rules together (one broker message per batch: the unit routes them to their batcher).
                w.Publish(new WebhookDeliveryCompleted(d.CommandId, d.RunId, d.Id, result.StatusCode ?? 0, number, now), when: moved);
                break;
            case Outcome.Gone:
                Disable(w, moved, d.WebhookId, d.Entity, webhookEntity ?? d.Entity, "the endpoint answered 410 Gone", now);
                if (!alert) w.Publish(new WebhookDeliveryFailed(d.CommandId, d.RunId, d.Id, "410 Gone: webhook disabled", 410, number, now), when: moved);
                break;
            case Outcome.Failed when alert:
                break;
            case Outcome.Failed:
                w.Publish(new WebhookDeliveryFailed(d.CommandId, d.RunId, d.Id, result.Error ?? "failed", result.StatusCode, number, now), when: moved);
                break;
        }
        var changes = health is null ? [] : Health(w, moved, d, outcome, health, webhookEntity ?? d.Entity, now);
        var committed = await w.CommitAsync(ct);
        return new Recorded(committed.Count(moved) == 1, changes.Where(c => committed.Count(c.Step) > 0).Select(c => c.Change).ToList());
    }

    /// <summary>
    /// The webhook's health and incident, moved on in the attempt's statement (docs/alerts.md). A failed attempt starts or
    /// extends the failing streak (a failed delivery adds one to the count) and may open the incident (at most one open
    /// per webhook: a unique index, so two replicas or a redelivered message open it once) or disable the webhook; a
    /// success ends the streak and closes the open incident once. Each change is published as a
    /// <see cref="WebhookIncidentChanged"/> only when its own step wrote a row.
    /// </summary>
    private static List<(Step Step, string Change)> Health(WriteUnit w, Step moved, ClaimedDelivery d, Outcome outcome, HealthInput h, string entity, DateTimeOffset now)
    {
        var changes = new List<(Step, string)>();
        if (outcome == Outcome.Succeeded)
        {
            // On every success: a primary-key probe that writes only when the webhook was failing.
            w.Execute(
                $"""
                update delivery.webhook_health set consecutive_failures = 0, failing_since = null, last_success_at = now(), updated_at = now()
                where webhook_id = @WebhookId and (failing_since is not null or consecutive_failures > 0) and exists (select from {moved})
                """, new { d.WebhookId });
            if (h.OpenIncident is { } open)
            {
                var closed = w.Execute(
                    $"update delivery.incidents set closed_at = now() where id = @open and closed_at is null and exists (select from {moved}) returning 1",
                    new { open });
                w.Publish(new WebhookIncidentChanged(Guid.CreateVersion7(), open, d.WebhookId, entity, IncidentChanges.Recovered, now), when: closed);
                changes.Add((closed, IncidentChanges.Recovered));
            }
            return changes;
        }

        var t = h.Settings ?? throw new ArgumentException("a failed attempt's health needs the team's settings", nameof(h));
        var args = new
        {
            d.WebhookId, Entity = entity, add = outcome == Outcome.Retry ? 0 : 1, incident = Guid.CreateVersion7(), n = t.ConsecutiveFailures,
            failingFor = t.FailingFor, disableAfter = t.DisableAfter, enabledSince = h.EnabledSince.ToUniversalTime(),
            failingForText = Durations.Text(t.FailingFor), disabledReason = h.DisabledReason, open = h.OpenIncident,
        };
        var streak = w.Execute(
            $"""
            insert into delivery.webhook_health as h (webhook_id, entity, consecutive_failures, failing_since)
            select @WebhookId, @Entity, @add, now() from {moved}
            on conflict (webhook_id) do update set consecutive_failures = h.consecutive_failures + excluded.consecutive_failures,
                failing_since = coalesce(h.failing_since, excluded.failing_since), updated_at = now()
            returning consecutive_failures, failing_since, greatest(failing_since, @enabledSince) <= now() - @disableAfter as overdue
            """, args);
        var opened = w.Execute(
            $"""
            insert into delivery.incidents (id, entity, webhook_id, failing_since, reason, disabled_at, disabled_reason)
            select @incident, @Entity, @WebhookId, h.failing_since,
                   case when h.consecutive_failures >= @n then h.consecutive_failures || ' deliveries in a row failed every attempt'
                        else 'no attempt succeeded for more than ' || @failingForText end,
                   case when h.overdue then now() end, case when h.overdue then @disabledReason end
            from {streak} h
            where h.consecutive_failures >= @n or h.failing_since <= now() - @failingFor or h.overdue
            on conflict (webhook_id) where closed_at is null do nothing
            returning disabled_at is not null as disabled
            """, args);
        var disabledOnOpening = w.Execute($"select 1 from {opened} where disabled");
        w.Publish(new WebhookIncidentChanged(Guid.CreateVersion7(), args.incident, d.WebhookId, entity, IncidentChanges.Opened, now), when: opened);
        w.Publish(new WebhookIncidentChanged(Guid.CreateVersion7(), args.incident, d.WebhookId, entity, IncidentChanges.Disabled, now), when: disabledOnOpening);
        changes.Add((opened, IncidentChanges.Opened));
        changes.Add((disabledOnOpening, IncidentChanges.Disabled));
        var disabled = disabledOnOpening;
        if (h.OpenIncident is { } known)
        {
            // An incident re-enabled since it disabled the webhook (the webhook updated after disabled_at) may disable it again.
            var disabling = w.Execute(
                $"""
                update delivery.incidents i set disabled_at = now(), disabled_reason = @disabledReason
                from {streak} h
                where i.id = @open and i.closed_at is null and (i.disabled_at is null or i.disabled_at < @enabledSince) and h.overdue
                returning 1
                """, args);
            w.Publish(new WebhookIncidentChanged(Guid.CreateVersion7(), known, d.WebhookId, entity, IncidentChanges.Disabled, now), when: disabling);
            changes.Add((disabling, IncidentChanges.Disabled));
            disabled = w.Execute($"select 1 from {disabledOnOpening} union all select 1 from {disabling}");
        }
        // Disabled as a 410 disables it.
        Disable(w, disabled, d.WebhookId, entity, entity, h.DisabledReason, now);
        return changes;
    }

    /// <summary>
    /// Disables a webhook when <paramref name="when"/> wrote a row (a 410, or a failure past the window): the sender's own
    /// state, and <see cref="WebhookDisabled"/> for the Api to show the reason.
    /// </summary>
    private static void Disable(WriteUnit w, Step when, Guid webhookId, string rowEntity, string messageEntity, string reason, DateTimeOffset now)
    {
        w.Execute(
            $"""
            insert into delivery.webhook_states (webhook_id, entity, disabled_at, disabled_reason) select @webhookId, @rowEntity, now(), @reason from {when} limit 1
            on conflict (webhook_id) do update set disabled_at = now(), disabled_reason = @reason
            """, new { webhookId, rowEntity, reason });
        w.Publish(new WebhookDisabled(webhookId, messageEntity, reason, now), when: when);
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

    /// <summary>What recording an attempt did: whether the claim was still ours, and the incident changes it made.</summary>
    public sealed record Recorded(bool Moved, IReadOnlyList<string> IncidentChanges);

    private sealed class WorkRow
    {
        public Guid DeliveryId { get; set; }
        public Guid WebhookId { get; set; }
        public Guid Claim { get; set; }
    }

    private sealed class StateRow
    {
        public DateTime? DisabledAt { get; set; }
        public string? DisabledReason { get; set; }
        public Guid? OpenIncident { get; set; }
    }
}
