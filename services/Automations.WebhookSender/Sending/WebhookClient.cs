using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Automations.Contracts;
using Automations.Core.Secrets;
using Automations.Core.Templates;
using Automations.Core.Webhooks;
using Automations.Persistence.Control;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.WebhookSender.Sending;

/// <summary>
/// What one request did. Every text here is masked (<see cref="SecretMask"/>): no secret value used in the request is
/// in the request, response headers, response body or error. <paramref name="ResponseBody"/> is an excerpt;
/// <paramref name="ResponseTruncated"/> says the response went on.
/// </summary>
public sealed record SendResult(
    int? StatusCode,
    IReadOnlyDictionary<string, string> ResponseHeaders,
    string? ResponseBody,
    string? Error,
    double DurationMs,
    DateTimeOffset StartedAt,
    bool Refused,
    TimeSpan? RetryAfter,
    string RequestUrl,
    IReadOnlyDictionary<string, string> RequestHeaders,
    string RequestBody,
    bool ResponseTruncated = false)
{
    public bool Success => StatusCode is >= 200 and < 300 && Error is null;
}

/// <summary>
/// Renders, signs and posts one webhook request: secrets are filled in at send time, the URL rule is checked again, the host
/// is resolved and every address checked by the SSRF guard (<see cref="WebhookDestination"/>), and the connection goes to the
/// checked addresses only (no second DNS lookup).
/// Redirects are not followed. What the endpoint answers is masked before anyone sees it: endpoints echo requests.
/// The request carries the documented headers only (docs/webhooks.md): of the trace, just `traceparent` and `tracestate`.
/// </summary>
public sealed class WebhookClient : IDisposable
{
    private const string Mask = SecretMask.Mask;
    private static readonly HttpRequestOptionsKey<IPAddress[]> ConnectTo = new("Automations.ConnectTo");

    private readonly HttpClient _http;
    private readonly WebhookDestination _destination;
    private readonly SecretCipher _cipher;
    private readonly NpgsqlDataSource _dataSource;
    private readonly WebhookOptions _options;

    public WebhookClient(IOptions<WebhookOptions> options, SecretCipher cipher, NpgsqlDataSource dataSource, IHostResolver resolver)
    {
        _options = options.Value;
        _destination = new WebhookDestination(AddressPolicy.Parse(_options.AllowedCidrs), resolver);
        _cipher = cipher;
        _dataSource = dataSource;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = _options.Timeout,
            ConnectCallback = ConnectToCheckedAddressAsync,
            ActivityHeadersPropagator = TraceContextOnlyPropagator.Instance,
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    private static async ValueTask<Stream> ConnectToCheckedAddressAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        if (!context.InitialRequestMessage.Options.TryGetValue(ConnectTo, out var addresses) || addresses.Length == 0)
            throw new HttpRequestException("refused: no checked address for this request");
        // Only the addresses the guard checked, in resolver order (IPv6 then IPv4, say): never a fresh lookup.
        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last!;
    }

    /// <param name="payload">A payload in <paramref name="payloadFormat"/> (<see cref="SendWebhook.SealedPayload"/>, or <see cref="SendWebhook.LegacyPayload"/> for one rendered before it).</param>
    public async Task<SendResult> SendAsync(WebhookTarget webhook, Guid messageId, string payload, int payloadFormat, CancellationToken ct)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var maskedHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var maskedBody = payload;
        var mask = new SecretMask([]);
        SendResult Fail(string error, bool refused) =>
            new(null, new Dictionary<string, string>(), null, mask.Apply(error), clock.Elapsed.TotalMilliseconds, startedAt, refused, null, webhook.Url,
                mask.Apply(maskedHeaders), mask.Apply(maskedBody));

        var destination = await _destination.CheckAsync(webhook.Url, ct);
        if (destination.Target is not { } url) return Fail(destination.Error!, destination.Refused);
        var addresses = destination.Addresses;

        string body, secret;
        string? token;
        try
        {
            (body, maskedBody, secret, token, mask) = await RenderAsync(webhook, payload, payloadFormat, ct);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or System.Text.Json.JsonException or NotSupportedException)
        {
            return Fail($"could not prepare the request: {ex.GetType().Name}", refused: false);
        }

        var bytes = Encoding.UTF8.GetBytes(body);
        var timestamp = startedAt.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(bytes) };
        request.Options.Set(ConnectTo, addresses);
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.UserAgent.ParseAdd(WebhookOptions.UserAgent);
        request.Headers.TryAddWithoutValidation("webhook-id", messageId.ToString());
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        maskedHeaders["Content-Type"] = "application/json";
        maskedHeaders["User-Agent"] = WebhookOptions.UserAgent;
        maskedHeaders["webhook-id"] = messageId.ToString();
        maskedHeaders["webhook-timestamp"] = timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (token is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            maskedHeaders["Authorization"] = "Bearer " + Mask;
        }
        if (secret.Length > 0)
        {
            var wandb = Signatures.Wandb(secret, bytes);
            var standard = Signatures.StandardWebhooks(secret, messageId.ToString(), timestamp, bytes);
            request.Headers.TryAddWithoutValidation("X-Wandb-Signature", wandb);
            request.Headers.TryAddWithoutValidation("webhook-signature", standard);
            maskedHeaders["X-Wandb-Signature"] = wandb;
            maskedHeaders["webhook-signature"] = standard;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in response.Headers.Concat(response.Content.Headers)) headers[h.Key] = string.Join(", ", h.Value);
            var (excerpt, truncated) = await ReadExcerptAsync(response, mask, timeout.Token);
            var status = (int)response.StatusCode;
            string? error = status switch
            {
                >= 200 and < 300 => null,
                >= 300 and < 400 => $"redirect not followed ({status}{(response.Headers.Location is { } l ? " to " + l : "")})",
                _ => $"HTTP {status}",
            };
            TimeSpan? retryAfter = status is 429 or 503
                ? response.Headers.RetryAfter switch
                {
                    { Delta: { } d } => d > _options.MaxRetryAfter ? _options.MaxRetryAfter : d,
                    { Date: { } at } => RetrySchedule.ParseRetryAfter(at.ToString("R"), DateTimeOffset.UtcNow, _options.MaxRetryAfter),
                    _ => null,
                }
                : null;
            return new SendResult(status, mask.Apply(headers), excerpt, mask.Apply(error), clock.Elapsed.TotalMilliseconds, startedAt, false, retryAfter,
                webhook.Url, mask.Apply(maskedHeaders), mask.Apply(maskedBody), truncated);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Fail($"timed out after {_options.Timeout.TotalSeconds:0.#} s", refused: false);
        }
        catch (HttpRequestException ex)
        {
            return Fail($"request failed: {ex.HttpRequestError} {ex.InnerException?.Message ?? ex.Message}", refused: false);
        }
    }

    private async Task<(string Body, string MaskedBody, string Secret, string? Token, SecretMask Mask)> RenderAsync(WebhookTarget webhook, string payload,
        int payloadFormat, CancellationToken ct)
    {
        Func<string, Func<string, string?>, string> expand = payloadFormat switch
        {
            SendWebhook.SealedPayload => PayloadTemplate.ExpandSecrets,
            SendWebhook.LegacyPayload => PayloadTemplate.ExpandLegacySecrets,
            _ => throw new NotSupportedException($"payload format {payloadFormat}"),
        };
        var references = payloadFormat == SendWebhook.SealedPayload ? PayloadTemplate.SecretReferences(payload) : PayloadTemplate.Names(payload);
        var names = references.Distinct(StringComparer.Ordinal).ToList();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (names.Count > 0)
        {
            await using var connection = await _dataSource.OpenConnectionAsync(ct);
            foreach (var s in await WebhookQueries.FindSecretsAsync(connection, webhook.EntityId, names, ct))
                values[s.Name] = _cipher.Decrypt(webhook.EntityId, s.Name, s.Value);
        }
        var body = expand(payload, n => values.TryGetValue(n, out var v) ? v : null);
        var masked = expand(payload, n => values.ContainsKey(n) ? Mask : null);
        var secret = webhook.Secret is { } sec ? _cipher.Decrypt(webhook.EntityId, sec.Name, sec.Value) : "";
        var token = webhook.AccessToken is { } t ? _cipher.Decrypt(webhook.EntityId, t.Name, t.Value) : null;
        return (body, masked, secret, token, new SecretMask([token, secret, .. values.Values]));
    }

    /// <summary>
    /// The first <see cref="WebhookOptions.MaxResponseBodyBytes"/> of the response, masked. Reads up to the mask's
    /// margin further, so that a secret across the limit is seen whole and masked before the cut.
    /// </summary>
    private async Task<(string Text, bool Truncated)> ReadExcerptAsync(HttpResponseMessage response, SecretMask mask, CancellationToken ct)
    {
        var max = Math.Max(0, _options.MaxResponseBodyBytes);
        var limit = max + mask.MarginBytes;
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Min(limit + 1, 64 * 1024));
        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(ct);
            var read = 0;
            // One byte past the limit tells a response that goes on from one that ends exactly there.
            while (read <= limit)
            {
                if (read == buffer.Length)
                {
                    var larger = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, limit + 1));
                    buffer.AsSpan(0, read).CopyTo(larger);
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
                    buffer = larger;
                }
                var n = await stream.ReadAsync(buffer.AsMemory(read, Math.Min(buffer.Length, limit + 1) - read), ct);
                if (n == 0) break;
                read += n;
            }
            var (text, truncated) = mask.Excerpt(buffer.AsSpan(0, Math.Min(read, limit)), max);
            return (text, truncated || read > limit);
        }
        finally
        {
            // Cleared: it may hold an echoed secret.
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    public void Dispose() => _http.Dispose();
}
