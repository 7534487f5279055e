using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Secrets;
using Automations.Core.Templates;
using Automations.Persistence.Control;
using Automations.WebhookSender.Deliveries;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.WebhookSender.Sending;

/// <summary>
/// The sender's one owner of webhooks and their secrets: it loads a webhook (its control row, and the sender's own
/// disabled state after a 410), decrypts its signing secret, its access token and the team secrets a payload names, and
/// prepares each request with its <see cref="SecretMask"/>. What it loads and decrypts for a webhook is kept for
/// Webhooks:ControlCacheTtl (2 s): at hundreds of deliveries a second to a few webhooks, reading, decrypting and building
/// the mask for every attempt costs more than the request. An edit in the Api (URL, signing secret, access token, a team
/// secret's value, deletion, disabling) therefore reaches deliveries within that TTL; a 410 drops the webhook at once
/// (<see cref="Forget"/>), and a webhook test reads it afresh (<see cref="LoadAsync"/>).
/// </summary>
public sealed class WebhookDirectory(NpgsqlDataSource dataSource, SecretCipher cipher, DeliveryStore store, IOptions<WebhookOptions> options)
{
    private readonly ConcurrentDictionary<Guid, (KnownWebhook? Webhook, long Expires)> _known = new();
    private readonly long _ttlMs = (long)options.Value.ControlCacheTtl.TotalMilliseconds;
    private long _nextSweep;

    /// <summary>The webhook as known within the TTL, else read now; null when it does not exist.</summary>
    public async Task<KnownWebhook?> FindAsync(Guid webhookId, CancellationToken ct) =>
        _known.TryGetValue(webhookId, out var known) && known.Expires > Environment.TickCount64 ? known.Webhook : await LoadAsync(webhookId, ct);

    /// <summary>The webhook read now (and kept for the TTL); null when it does not exist.</summary>
    public async Task<KnownWebhook?> LoadAsync(Guid webhookId, CancellationToken ct)
    {
        WebhookTarget? target;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
            target = await WebhookQueries.FindAsync(connection, webhookId, ct);
        var webhook = target is null ? null : new KnownWebhook(target, await store.FindStateAsync(webhookId, ct), cipher);
        var now = Environment.TickCount64;
        _known[webhookId] = (webhook, now + _ttlMs);
        Sweep(now);
        return webhook;
    }

    /// <summary>Drops what is known of a webhook: its endpoint answered 410, and the next attempt must see that.</summary>
    public void Forget(Guid webhookId) => _known.TryRemove(webhookId, out _);

    /// <summary>
    /// The request for one attempt: <paramref name="payload"/> (in <paramref name="payloadFormat"/>:
    /// <see cref="SendWebhook.SealedPayload"/>, or <see cref="SendWebhook.LegacyPayload"/> for one rendered before it)
    /// with its secret references filled in, the webhook's signing secret and access token, and the mask of them all.
    /// A request that cannot be prepared (a master key missing, an unreadable payload) says why, and is retried.
    /// </summary>
    public async Task<WebhookRequest> PrepareAsync(KnownWebhook webhook, Guid messageId, string payload, int payloadFormat, CancellationToken ct)
    {
        try
        {
            Func<string, Func<string, string?>, string> expand = payloadFormat switch
            {
                SendWebhook.SealedPayload => PayloadTemplate.ExpandSecrets,
                SendWebhook.LegacyPayload => PayloadTemplate.ExpandLegacySecrets,
                _ => throw new NotSupportedException($"payload format {payloadFormat}"),
            };
            var names = (payloadFormat == SendWebhook.SealedPayload ? PayloadTemplate.SecretReferences(payload) : PayloadTemplate.Names(payload))
                .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            var secrets = await SecretsAsync(webhook, names, ct);
            var values = secrets.Values;
            return new WebhookRequest
            {
                Url = secrets.TargetUrl ?? webhook.Url,
                ShownUrl = secrets.TargetUrl is null ? null : webhook.Url,
                MessageId = messageId,
                Body = expand(payload, n => values.TryGetValue(n, out var v) ? v : null),
                MaskedBody = expand(payload, n => values.ContainsKey(n) ? SecretMask.Mask : null),
                SigningSecret = secrets.SigningSecret,
                AccessToken = secrets.AccessToken,
                Mask = secrets.Mask,
            };
        }
        catch (Exception ex) when (ex is CryptographicException or JsonException or NotSupportedException)
        {
            // The exception's type only: a message could quote the payload.
            return new WebhookRequest
            {
                Url = webhook.Url, ShownUrl = webhook.HasSecretUrl ? webhook.Url : null, MessageId = messageId, MaskedBody = payload,
                NotPrepared = $"could not prepare the request: {ex.GetType().Name}",
            };
        }
    }

    /// <summary>The webhook's keys and the values of <paramref name="names"/>, decrypted once per webhook and set of names while the webhook is known.</summary>
    private async ValueTask<RequestSecrets> SecretsAsync(KnownWebhook webhook, string[] names, CancellationToken ct)
    {
        var keys = webhook.Keys;
        if (names.Length == 0) return keys;
        var key = string.Join('\n', names);
        if (webhook.Secrets.TryGetValue(key, out var known)) return known;
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
            foreach (var s in await WebhookQueries.FindSecretsAsync(connection, webhook.EntityId, names, ct))
                values[s.Name] = cipher.Decrypt(webhook.EntityId, s.Name, s.Value);
        return webhook.Secrets[key] = new RequestSecrets(values, keys.SigningSecret, keys.AccessToken, keys.TargetUrl);
    }

    /// <summary>Drops expired webhooks now and then, so that decrypted secrets of webhooks no longer used do not stay in memory.</summary>
    private void Sweep(long now)
    {
        var due = Interlocked.Read(ref _nextSweep);
        if (now < due || Interlocked.CompareExchange(ref _nextSweep, now + Math.Max(_ttlMs, 1_000), due) != due) return;
        foreach (var entry in _known)
            if (entry.Value.Expires <= now) _known.TryRemove(entry);
    }
}

/// <summary>
/// A webhook as the sender knows it for Webhooks:ControlCacheTtl. Once a request is prepared it holds decrypted secrets:
/// a class without ToString, so nothing prints them.
/// </summary>
public sealed class KnownWebhook
{
    private readonly Lazy<RequestSecrets> _keys;

    internal KnownWebhook(WebhookTarget target, WebhookState state, SecretCipher cipher)
    {
        var disabledHere = state.DisabledHere;
        OpenIncident = state.OpenIncident;
        UpdatedAt = target.UpdatedAt;
        Id = target.Id;
        EntityId = target.EntityId;
        Entity = target.Entity;
        Kind = target.Kind;
        // An integration's real URL is a secret: only its shown form is kept here, the rest is decrypted with the keys.
        Url = target.Url;
        HasSecretUrl = target.SecretUrl is not null;
        // The sender's own state (after a 410) applies until the webhook is updated in the Api.
        Disabled = target.DisabledAt is not null ? "the webhook is disabled: " + (target.DisabledReason ?? "by an admin")
            : disabledHere is { } here && here.DisabledAt >= target.UpdatedAt ? "the webhook is disabled: " + here.Reason
            : null;
        // Decrypted at the first request, once; a failure (a master key missing) stays with this copy of the webhook and
        // is reported by each request until it is read again.
        _keys = new(() => new RequestSecrets(new Dictionary<string, string>(),
            target.Secret is { } s ? cipher.Decrypt(target.EntityId, s.Name, s.Value) : "",
            target.AccessToken is { } t ? cipher.Decrypt(target.EntityId, t.Name, t.Value) : null,
            target.SecretUrl is { } u ? cipher.Decrypt(target.EntityId, WebhookTarget.SecretUrlName(target.Id), u) : null));
    }

    public Guid Id { get; }
    public Guid EntityId { get; }
    public string Entity { get; }
    /// <summary>Where to post; for a notification integration, the shown form of its secret URL.</summary>
    public string Url { get; }

    /// <summary>generic, slack or teams.</summary>
    public string Kind { get; }

    public bool HasSecretUrl { get; }

    /// <summary>Its last update in the Api (an admin re-enabling it, for one).</summary>
    public DateTimeOffset UpdatedAt { get; }

    /// <summary>Its open incident when it was read (docs/alerts.md); null when it had none.</summary>
    public Guid? OpenIncident { get; }

    /// <summary>Why nothing may be delivered to it (disabled by an admin, or by a 410 since its last update); null when it may.</summary>
    public string? Disabled { get; }

    internal RequestSecrets Keys => _keys.Value;

    /// <summary>Decrypted team secrets by the set of names a payload refers to (names joined by a newline).</summary>
    internal ConcurrentDictionary<string, RequestSecrets> Secrets { get; } = new(StringComparer.Ordinal);
}

/// <summary>The sender's own state of a webhook: disabled here (a 410, a long failure) and its open incident.</summary>
public sealed record WebhookState((DateTimeOffset DisabledAt, string Reason)? DisabledHere, Guid? OpenIncident);

/// <summary>
/// The secret values of a request and their mask. A secret URL is masked whole and by its path (an error or an echo may
/// quote either).
/// </summary>
internal sealed class RequestSecrets(IReadOnlyDictionary<string, string> values, string signingSecret, string? accessToken, string? targetUrl = null)
{
    public IReadOnlyDictionary<string, string> Values => values;
    public string SigningSecret => signingSecret;
    public string? AccessToken => accessToken;
    public string? TargetUrl => targetUrl;
    public SecretMask Mask { get; } = new([accessToken, signingSecret, targetUrl, PathOf(targetUrl), .. values.Values]);

    private static string? PathOf(string? url) =>
        url is not null && Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.PathAndQuery.Length > 1 ? uri.PathAndQuery : null;
}
