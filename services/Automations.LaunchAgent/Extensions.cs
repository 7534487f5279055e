using Automations.Persistence.Outbox;
using Automations.ServiceDefaults;

namespace Automations.LaunchAgent;

public static class Extensions
{
    public const string Schema = "launch";

    public static IHostApplicationBuilder AddLaunchAgent(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails();
        builder.AddAutomationsBus();
        builder.Services.AddOutboxRelay(Schema);
        return builder;
    }

    public static WebApplication MapLaunchAgent(this WebApplication app)
    {
        app.UseExceptionHandler();
        return app;
    }
}
