using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Automations.Testing;

/// <summary>
/// A real HTTP endpoint on 127.0.0.1 that records every request and answers as each path is told to. Its URLs name the
/// machine (<see cref="LocalName"/>), not the address: the URL rule refuses IP literals and localhost.
/// </summary>
public sealed class Receiver : IAsyncDisposable
{
    public sealed record Request(string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body, DateTimeOffset At, int Number)
    {
        public string BodyText => System.Text.Encoding.UTF8.GetString(Body);
        public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
    }

    /// <summary>Decides the answer to the n-th request (1-based) on a path.</summary>
    public delegate Task Responder(HttpContext context, int number);

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Request> _requests = new();
    private readonly ConcurrentDictionary<string, Responder> _responders = new();
    private readonly ConcurrentDictionary<string, int> _counts = new();

    private Receiver(WebApplication app) => _app = app;

    private Responder? _otherwise;
    public Uri BaseAddress { get; private set; } = null!;
    public IReadOnlyList<Request> Requests => _requests.ToArray();
    public IReadOnlyList<Request> On(string path) => _requests.Where(r => r.Path == path).ToArray();

    public string Url(string path) => new Uri(BaseAddress, path).ToString();

    public void Respond(string path, Responder responder) => _responders[path] = responder;

    public static Responder Status(int status) => (ctx, _) =>
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsync("ok");
    };

    /// <summary>Fails the first <paramref name="failures"/> requests with <paramref name="status"/>, then answers 200.</summary>
    public static Responder FailFirst(int failures, int status = 500) => (ctx, n) =>
    {
        ctx.Response.StatusCode = n <= failures ? status : 200;
        return ctx.Response.WriteAsync(n <= failures ? "not yet" : "ok");
    };

    /// <param name="otherwise">How to answer a path no <see cref="Respond"/> call named; by default 200 "ok".</param>
    public static async Task<Receiver> StartAsync(Responder? otherwise = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new Receiver(app) { _otherwise = otherwise };
        app.Run(receiver.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.BaseAddress = new Uri(LocalName.Url(new Uri(address)));
        return receiver;
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var ms = new MemoryStream();
        await context.Request.Body.CopyToAsync(ms);
        var path = context.Request.Path.Value ?? "/";
        var number = _counts.AddOrUpdate(path, 1, (_, n) => n + 1);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _requests.Enqueue(new Request(path, headers, ms.ToArray(), DateTimeOffset.UtcNow, number));
        if (_responders.TryGetValue(path, out var responder))
            await responder(context, number);
        else if (_otherwise is not null)
            await _otherwise(context, number);
        else
        {
            context.Response.StatusCode = 200;
            await context.Response.WriteAsync("ok");
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await _app.StopAsync(cts.Token); } catch (OperationCanceledException) { }
        await _app.DisposeAsync();
    }
}
