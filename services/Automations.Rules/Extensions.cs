using Automations.Persistence.Outbox;
using Automations.ServiceDefaults;

namespace Automations.Rules;

public static class Extensions
{
    public const string Schema = "rules";

    public static IHostApplicationBuilder AddRules(this IHostApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails();
        builder.AddAutomationsBus();
        builder.Services.AddOutboxRelay(Schema);
        return builder;
    }

    public static WebApplication MapRules(this WebApplication app)
    {
        app.UseExceptionHandler();
        return app;
    }
}
