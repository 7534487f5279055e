using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Automations.Testing;

/// <summary>
/// A real service (its own Program.Build) listening with Kestrel on 127.0.0.1 and a free port, in the test process.
/// Tests reach it over real HTTP, and it talks to the real broker and database.
/// </summary>
public sealed class ServiceHost : IAsyncDisposable
{
    private ServiceHost(WebApplication app, Uri baseAddress)
    {
        App = app;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication App { get; }
    public Uri BaseAddress { get; }
    public HttpClient Client { get; }
    public IServiceProvider Services => App.Services;

    /// <summary>
    /// What one instrument of this host's "Automations" meter records from now on. The instruments come from the host's
    /// IMeterFactory, so other hosts in the test process are not heard.
    /// </summary>
    public MetricCollector<T> Metric<T>(string instrument) where T : struct =>
        new(Services.GetRequiredService<IMeterFactory>(), "Automations", instrument);

    public static async Task<ServiceHost> StartAsync(Func<string[], WebApplication> build, IDictionary<string, string?> configuration)
    {
        // Several MassTransit hosts in one process: without this, a host built after another was disposed fails in BusLogContext.
        MassTransit.LogContext.Current = null;
        var args = configuration
            .Where(kv => kv.Value is not null)
            .Select(kv => $"--{kv.Key}={kv.Value}")
            .Append("--urls=http://127.0.0.1:0")
            .Append("--environment=Testing")
            .ToArray();
        var app = build(args);
        try
        {
            // As the services' Main starts them: a failed start stops the host before it is disposed.
            await AutomationsService.StartAsync(app);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var host = new ServiceHost(app, new Uri(address));
        await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(60));
        return host;
    }

    /// <summary>Waits for /health/ready: database reachable, bus started, consumers in place.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await Client.GetAsync("/health/ready");
                if (response.IsSuccessStatusCode) return;
                last = await response.Content.ReadAsStringAsync();
            }
            catch (HttpRequestException ex) { last = ex.Message; }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{BaseAddress} did not become ready: {last}");
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await App.StopAsync(cts.Token);
        }
        finally
        {
            await App.DisposeAsync();
        }
    }
}
