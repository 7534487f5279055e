using System.Collections.Concurrent;
using Automations.Contracts;
using Microsoft.Extensions.Options;

namespace Automations.WebhookSender.Deliveries;

/// <summary>Takes a delivery's request slots (its webhook's, then the process's); disposing the result gives them back.</summary>
public delegate Task<IDisposable> EnterRequest(CancellationToken ct);

/// <summary>
/// The sender's concurrency protocol, whole: which deliveries this process runs, and how many at once. The consumer
/// hands it each command (<see cref="AcceptAsync"/>), the scheduler asks it to take due deliveries
/// (<see cref="DispatchDueAsync"/>); neither counts anything itself.
/// <para>
/// A <b>hold</b> is this process's right to keep one delivery: taken here before the delivery is claimed in PostgreSQL,
/// given back here alone when the attempt is recorded, or at once when the delivery is not run after all (a repeated
/// command, a claim given back). Holds are bounded per webhook (MaxConcurrencyPerWebhook × 8) and per process
/// (MaxHeldDeliveries, by default MaxConcurrency × 4); a delivery taken from a command also holds its payload until its
/// attempt ends, and those payloads together are bounded in bytes (MaxHeldPayloadBytes). A webhook whose holds are all
/// taken (an endpoint that hangs) gets no more: its new commands are stored unclaimed and due, the scheduler passes over
/// its due deliveries, and the process goes on with other webhooks.
/// The process bounds are backpressure: while one is reached the consumer waits, and further commands stay in the broker.
/// A delivery the scheduler takes holds no payload until it is in its request slots (MaxConcurrency of them).
/// </para>
/// <para>
/// A held delivery sends inside its <b>request slots</b>: one of its webhook's MaxConcurrencyPerWebhook, then one of the
/// process's MaxConcurrency, held for loading the delivery and its request only (recording the outcome does not count),
/// so an endpoint that hangs for the whole timeout occupies its own slots and no others.
/// </para>
/// <para>
/// Work lives in the database: if the process dies its claims run out and any replica's scheduler takes the deliveries
/// (claims make each attempt one process's). On stop no hold is given any more (a command is then stored unclaimed),
/// attempts waiting for a slot or in flight are cancelled and their claims given back, due at once for any replica, and
/// <see cref="StopAsync"/> returns when every hold is back.
/// </para>
/// <para>
/// A webhook that turned work away (a command stored unclaimed, due deliveries passed over) has its due deliveries
/// taken again as soon as half its holds are back (<see cref="RoomFreed"/> wakes the scheduler), not at the scheduler's
/// next tick: under a flood its overflow drains at the rate its endpoint answers.
/// </para>
/// </summary>
public sealed class DeliveryDispatcher(DeliveryStore store, DeliveryAttempts attempts, IOptions<WebhookOptions> options, ILogger<DeliveryDispatcher> logger)
    : IHostedService, IDisposable
{
    private readonly int _holdsPerWebhook = options.Value.MaxConcurrencyPerWebhook * 8;
    private readonly int _requestsPerWebhook = options.Value.MaxConcurrencyPerWebhook;
    private readonly int _processHoldLimit = options.Value.HeldDeliveries;
    private readonly int _maxInline = options.Value.MaxInlineAttempts;

    /// <summary>Attempts run inline now (<see cref="WebhookOptions.MaxInlineAttempts"/>).</summary>
    private int _inline;

    /// <summary>Commands in <see cref="AcceptAsync"/> now, copies waiting included.</summary>
    private int _acceptingCount;

    /// <summary>Commands being accepted now, by command id: a second copy waits for the first.</summary>
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _accepting = new();

    /// <summary>What a payload held in memory counts against MaxHeldPayloadBytes: its UTF-16 characters.</summary>
    public static long PayloadBytes(SendWebhook command) => (long)command.Payload.Length * sizeof(char);

    /// <summary>Deliveries held now (waiting for a request slot, sending or recording).</summary>
    public long Held => _processHoldLimit - _processHolds.CurrentCount;

    /// <summary>Payload bytes held now by deliveries taken from commands.</summary>
    public long HeldPayloadBytes => _payloads.Used;

    /// <summary>Per webhook with deliveries held here: its holds and its request slots. A lane lives while it has holds. Locked on itself.</summary>
    private readonly Dictionary<Guid, Lane> _lanes = [];

    /// <summary>The process's holds (MaxHeldDeliveries): the consumer waits here, the scheduler claims no more than are free.</summary>
    private readonly SemaphoreSlim _processHolds = new(options.Value.HeldDeliveries);

    /// <summary>The payloads held by deliveries taken from commands (MaxHeldPayloadBytes): the consumer waits here too.</summary>
    private readonly ByteBudget _payloads = new(options.Value.MaxHeldPayloadBytes);

    /// <summary>The process's request slots (MaxConcurrency).</summary>
    private readonly SemaphoreSlim _processRequests = new(options.Value.MaxConcurrency);

    private readonly CancellationTokenSource _stopping = new();

    /// <summary>
    /// Raised when a webhook that turned work away has half its holds free again: its due deliveries can be taken now.
    /// The scheduler listens; a handler must not block (it runs where the hold was given back).
    /// </summary>
    public event Action? RoomFreed;

    /// <summary>Completed when stopping and every hold is back.</summary>
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Runs the delivery of a command here when its webhook has a hold free: sent at once and stored with its outcome
    /// when a request slot is free now (<see cref="WebhookOptions.MaxInlineAttempts"/>), else stored claimed and run off
    /// the caller's path. A webhook without a hold free gets it stored unclaimed and due, for the scheduler (here or on
    /// another replica) when the webhook has room. Waits while the process holds all it may. A command seen before (the
    /// delivery is unique per command) stores and sends nothing.
    /// </summary>
    public async Task AcceptAsync(SendWebhook command, CancellationToken ct)
    {
        // Copies of one command in this process are handled one after the other: a copy sent before it is stored must be
        // recorded before another copy looks for its delivery (or stores it claimed, which would make the first copy's
        // outcome unrecordable and send it again).
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Interlocked.Increment(ref _acceptingCount);
        try
        {
            while (_accepting.GetOrAdd(command.CommandId, mine) is var earlier && earlier != mine)
                await earlier.Task.WaitAsync(ct);
            try
            {
                await AcceptOnceAsync(command, ct);
            }
            finally
            {
                _accepting.TryRemove(new KeyValuePair<Guid, TaskCompletionSource>(command.CommandId, mine));
                mine.SetResult();
            }
        }
        finally
        {
            Interlocked.Decrement(ref _acceptingCount);
        }
    }

    private async Task AcceptOnceAsync(SendWebhook command, CancellationToken ct)
    {
        // The webhook's hold is taken before the process's: a command for a webhook that is full never waits for room.
        // Check and take are one step: the broker hands the consumer a prefetch's worth of commands at once.
        if (TryHold(command.WebhookId) is not { } lane)
        {
            await store.CreateAsync(command, claimed: false, ct);
            return;
        }
        var (processHold, bytes, running) = (false, 0L, false);
        IDisposable? slots = null;
        try
        {
            await _payloads.TakeAsync(PayloadBytes(command), ct);
            bytes = PayloadBytes(command);
            await _processHolds.WaitAsync(ct);
            processHold = true;
            if (TryEnterInline(lane) is { } inline)
            {
                slots = inline;
                await RunInlineAsync(command, inline, ct);
                return;
            }
            if (await store.CreateAsync(command, claimed: true, ct) is { } work)
            {
                Run(work, lane, bytes);
                running = true;
            }
        }
        finally
        {
            if (!running)
            {
                slots?.Dispose();
                if (bytes > 0) _payloads.Give(bytes);
                Release(lane, processHold);
            }
        }
    }

    /// <summary>
    /// Sends a fresh command's delivery before it is stored, while the consumer holds the broker message, and records
    /// it once with its outcome (<see cref="WebhookOptions.MaxInlineAttempts"/>). The message is acknowledged only after
    /// that write: a process that dies before it leaves the message to the broker, and the command is handled again
    /// (with the same webhook-id). A stopping bus waits for it (the request ends, its outcome is stored). The consumer's
    /// token (the broker connection lost) cancels it only before the request starts: once it may have reached the
    /// endpoint, it runs to its answer (at most Webhooks:Timeout) and is recorded, so the copy the broker delivers again
    /// finds it stored and sends nothing. The dispatcher's stop cancels it at any point (the message goes back).
    /// </summary>
    private async Task RunInlineAsync(SendWebhook command, IDisposable slots, CancellationToken ct)
    {
        try
        {
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct, _stopping.Token);
            if (await store.UnstoredAsync(command, cancel.Token) is not { } work) return;
            await attempts.RunAsync(work, _ => Task.FromResult(slots), _stopping.Token);
        }
        finally
        {
            Interlocked.Decrement(ref _inline);
        }
    }

    /// <summary>
    /// A request slot of the webhook and of the process free right now, and room for one more inline attempt; else null.
    /// Only while the consumer has few commands at once: under load the group commit already shares its commits among
    /// many deliveries, so storing first costs little there, and each command held for its request would be one the
    /// consumer cannot take meanwhile.
    /// </summary>
    private IDisposable? TryEnterInline(Lane lane)
    {
        if (Volatile.Read(ref _acceptingCount) > _maxInline) return null;
        if (Interlocked.Increment(ref _inline) > _maxInline || _stopping.IsCancellationRequested)
        {
            Interlocked.Decrement(ref _inline);
            return null;
        }
        if (lane.Requests.Wait(0))
        {
            if (_processRequests.Wait(0)) return new RequestSlots(lane.Requests, _processRequests);
            lane.Requests.Release();
        }
        Interlocked.Decrement(ref _inline);
        return null;
    }

    /// <summary>
    /// Claims up to <paramref name="limit"/> due deliveries (no more than the process has holds free, none of a webhook
    /// whose holds are all taken) and runs them; a claim beyond a webhook's room (it filled up meanwhile, or has more due
    /// deliveries than holds) is given back at once, due for the next pass. Returns how many were claimed.
    /// </summary>
    public async Task<int> DispatchDueAsync(int limit, CancellationToken ct)
    {
        var room = Math.Min(limit, _processHolds.CurrentCount);
        if (room <= 0) return 0;
        var due = await store.ClaimDueAsync(room, FullWebhooks(), ct);
        List<WorkItem>? overflow = null;
        foreach (var work in due)
        {
            if (TryHold(work.WebhookId) is { } lane)
            {
                if (_processHolds.Wait(0, CancellationToken.None))
                {
                    Run(work, lane, payloadBytes: 0);
                    continue;
                }
                Release(lane, processHold: false);
            }
            (overflow ??= []).Add(work);
        }
        if (overflow is not null) await store.ReleaseAsync(overflow);
        return due.Count;
    }

    private Lane? TryHold(Guid webhookId)
    {
        lock (_lanes)
        {
            if (_stopping.IsCancellationRequested) return null;
            if (_lanes.TryGetValue(webhookId, out var lane))
            {
                if (TurnsAway(lane)) return null;
            }
            else
            {
                _lanes[webhookId] = lane = new Lane(webhookId, _requestsPerWebhook);
            }
            lane.Held++;
            return lane;
        }
    }

    private void Release(Lane lane, bool processHold)
    {
        if (processHold) _processHolds.Release();
        var roomFreed = false;
        lock (_lanes)
        {
            if (--lane.Held == 0) _lanes.Remove(lane.WebhookId);
            if (_lanes.Count == 0 && _stopping.IsCancellationRequested) _drained.TrySetResult();
            // Half the holds, not one: each wake costs the scheduler a claim query, and a half leaves the webhook's
            // requests busy while it runs.
            if (lane.TurnedAway && lane.Held <= _holdsPerWebhook / 2 && !_stopping.IsCancellationRequested)
            {
                lane.TurnedAway = false;
                roomFreed = true;
            }
        }
        if (roomFreed) RoomFreed?.Invoke();
    }

    /// <summary>Whether the lane's holds are all taken; if so, it is marked as having turned work away. Under the lock.</summary>
    private bool TurnsAway(Lane lane)
    {
        if (lane.Held < _holdsPerWebhook) return false;
        lane.TurnedAway = true;
        return true;
    }

    private Guid[] FullWebhooks()
    {
        lock (_lanes)
        {
            return [.. _lanes.Values.Where(TurnsAway).Select(l => l.WebhookId)];
        }
    }

    /// <summary>Runs a claimed delivery holding both holds, off the caller's path (its broker message is already acknowledged).</summary>
    private void Run(WorkItem work, Lane lane, long payloadBytes) => _ = Task.Run(() => RunAsync(work, lane, payloadBytes));

    private async Task RunAsync(WorkItem work, Lane lane, long payloadBytes)
    {
        var stopping = _stopping.Token;
        try
        {
            await attempts.RunAsync(work, ct => EnterRequestAsync(lane, ct), stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            try { await store.ReleaseAsync(work); }
            catch (Exception ex) { logger.LogWarning(ex, "Could not release delivery {DeliveryId}; it is retried when its claim expires", work.DeliveryId); }
        }
        catch (Exception ex)
        {
            // The claim runs out and the scheduler tries again: nothing is lost.
            logger.LogError(ex, "Attempt of delivery {DeliveryId} failed unexpectedly; it is retried when its claim expires", work.DeliveryId);
        }
        finally
        {
            if (payloadBytes > 0) _payloads.Give(payloadBytes);
            Release(lane, processHold: true);
        }
    }

    private async Task<IDisposable> EnterRequestAsync(Lane lane, CancellationToken ct)
    {
        await lane.Requests.WaitAsync(ct);
        try
        {
            await _processRequests.WaitAsync(ct);
        }
        catch
        {
            lane.Requests.Release();
            throw;
        }
        return new RequestSlots(lane.Requests, _processRequests);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        lock (_lanes)
            if (_lanes.Count == 0) _drained.TrySetResult();
        // Past the host's shutdown timeout, claims not given back run out instead.
        try { await _drained.Task.WaitAsync(cancellationToken); }
        catch (OperationCanceledException) { }
    }

    public void Dispose() => _stopping.Dispose();

    /// <summary>One webhook's deliveries in this process.</summary>
    private sealed class Lane(Guid webhookId, int requests)
    {
        public Guid WebhookId { get; } = webhookId;
        public SemaphoreSlim Requests { get; } = new(requests);
        /// <summary>Holds taken (deliveries waiting for a slot, sending or recording); under the dispatcher's lock.</summary>
        public int Held { get; set; }
        /// <summary>Work was turned away while the holds were all taken; under the dispatcher's lock.</summary>
        public bool TurnedAway { get; set; }
    }

    private sealed class RequestSlots(SemaphoreSlim webhook, SemaphoreSlim process) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) != 0) return;
            process.Release();
            webhook.Release();
        }
    }
}
