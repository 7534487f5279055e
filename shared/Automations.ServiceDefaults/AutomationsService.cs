using Automations.ServiceDefaults.Http;
using Microsoft.AspNetCore.Builder;

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
        app.UseRateLimiter();
        map?.Invoke(app);
        app.MapDefaultEndpoints();
        return app;
    }
}
