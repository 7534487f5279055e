using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Automations.Core.Secrets;
using Automations.Core.Webhooks;
using Automations.ServiceDefaults.Http;
using Microsoft.Extensions.Options;

namespace Automations.WebhookSender.Sending;

/// <summary>
/// Signs and posts one prepared request (<see cref="WebhookDirectory.PrepareAsync"/>): the URL rule is checked again, the
/// host is resolved and every address checked by the SSRF guard (<see cref="WebhookDestination"/>), and the connection goes
/// to the checked addresses only (no second DNS lookup). Redirects are not followed. Everything kept of the exchange is
/// masked with the request's <see cref="SecretMask"/> before anyone sees it: endpoints echo requests. The request carries
/// the documented headers only (docs/webhooks.md): of the trace, just `traceparent` and `tracestate`.
/// </summary>
public sealed class WebhookClient : IDisposable
{
    private static readonly HttpRequestOptionsKey<IPAddress[]> ConnectTo = new("Automations.ConnectTo");

    private readonly HttpClient _http;
    private readonly WebhookDestination _destination;
    private readonly WebhookOptions _options;

    public WebhookClient(IOptions<WebhookOptions> options, IHostResolver resolver)
    {
        _options = options.Value;
        _destination = new WebhookDestination(AddressPolicy.Parse(_options.AllowedCidrs), resolver);
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

    public async Task<SendResult> SendAsync(WebhookRequest request, CancellationToken ct)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var mask = request.Mask;
        var sentHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        // The one place where what is kept of the exchange is masked (the body excerpt is masked as it is read).
        SendResult Kept(SendResult result) => result with
        {
            Error = mask.Apply(result.Error),
            ResponseHeaders = mask.Apply(result.ResponseHeaders),
            StartedAt = startedAt,
            DurationMs = clock.Elapsed.TotalMilliseconds,
            RequestUrl = request.ShownUrl ?? request.Url,
            RequestHeaders = mask.Apply(sentHeaders),
            RequestBody = mask.Apply(request.MaskedBody)!,
        };

        var destination = await _destination.CheckAsync(request.Url, ct);
        if (destination.Target is not { } url)
            return Kept(destination.Refused ? SendResult.Refused(destination.Error!) : SendResult.NoAnswer(destination.Error!));
        if (request.NotPrepared is { } notPrepared) return Kept(SendResult.NoAnswer(notPrepared));

        var bytes = Encoding.UTF8.GetBytes(request.Body);
        var messageId = request.MessageId.ToString();
        var timestamp = startedAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(bytes) };
        message.Options.Set(ConnectTo, destination.Addresses);
        if (request.ShownUrl is { } shown) message.Options.Set(SecretUrls.Shown, shown);
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(WebhookHeaders.ContentType);
        message.Headers.UserAgent.ParseAdd(WebhookHeaders.UserAgent);
        message.Headers.TryAddWithoutValidation(WebhookHeaders.Id, messageId);
        message.Headers.TryAddWithoutValidation(WebhookHeaders.Timestamp, timestamp);
        if (request.AccessToken is { } token)
            message.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        string? wandb = null, standard = null;
        if (request.SigningSecret.Length > 0)
        {
            wandb = Signatures.Wandb(request.SigningSecret, bytes);
            standard = Signatures.StandardWebhooks(request.SigningSecret, messageId, startedAt.ToUnixTimeSeconds(), bytes);
            message.Headers.TryAddWithoutValidation(WebhookHeaders.WandbSignature, wandb);
            message.Headers.TryAddWithoutValidation(WebhookHeaders.Signature, standard);
        }
        foreach (var (name, value) in WebhookHeaders.Recorded(messageId, timestamp, request.AccessToken is not null, wandb, standard)) sentHeaders[name] = value;

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in response.Headers.Concat(response.Content.Headers)) headers[h.Key] = string.Join(", ", h.Value);
            var (excerpt, truncated) = await ReadExcerptAsync(response, mask, timeout.Token);
            return Kept(SendResult.Answered((int)response.StatusCode, headers, excerpt, truncated, response.Headers.RetryAfter, response.Headers.Location));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Kept(SendResult.NoAnswer($"timed out after {_options.Timeout.TotalSeconds:0.#} s"));
        }
        catch (HttpRequestException ex)
        {
            return Kept(SendResult.NoAnswer($"request failed: {ex.HttpRequestError} {ex.InnerException?.Message ?? ex.Message}"));
        }
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
