using Automations.ServiceDefaults.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Automations.ServiceDefaults;

/// <summary>
/// The host of every HTTP service: <see cref="Extensions.AddServiceDefaults"/>, <see cref="HttpInput"/>,
/// <see cref="HttpLimits"/>, the service's own part, the health endpoints.
/// </summary>
public static class AutomationsService
{
    /// <param name="add">the service's registrations.</param>
    /// <param name="map">the service's endpoints, after HttpInput's middleware and before the health endpoints.</param>
    public static WebApplication Build(string[] args, string serviceName, Action<WebApplicationBuilder> add, Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults(serviceName);
        builder.Services.AddHttpInput();
        builder.AddHttpLimits();
        add(builder);
        var app = builder.Build();
        app.UseHttpInput();
        app.UseHttpLimits();
        map?.Invoke(app);
        app.MapDefaultEndpoints();
        return app;
    }

    /// <summary>
    /// What a service's Main runs instead of <c>app.RunAsync()</c>: <see cref="StartAsync"/>, then the host until SIGTERM
    /// (stopped, then disposed).
    /// </summary>
    public static async Task RunAsync(WebApplication app)
    {
        await using (app)
        {
            await StartAsync(app);
            await app.WaitForShutdownAsync();
        }
    }

    /// <summary>
    /// Starts the host; a start that fails stops the host before the exception goes on.
    /// </summary>
    /// <remarks>
    /// The host does not stop what it started when a later service fails to start (Kestrel's port is taken, SIGTERM
    /// arrives during the start): <c>RunAsync</c> goes straight to disposing the container. The bus starts before
    /// Kestrel and would still be consuming then; every message it dispatched meanwhile fails to create its scope
    /// (ObjectDisposedException 'IServiceProvider'), runs through the immediate retries and lands in its _error queue.
    /// Stopped first, the bus takes no more deliveries, lets those in flight finish and the broker gets the rest back.
    /// </remarks>
    public static async Task StartAsync(WebApplication app, CancellationToken cancellationToken = default)
    {
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception)
        {
            try
            {
                await app.StopAsync(CancellationToken.None);
            }
            catch (Exception stop)
            {
                app.Logger.LogError(stop, "Stopping the host after its failed start failed");
            }
            throw;
        }
    }
}
