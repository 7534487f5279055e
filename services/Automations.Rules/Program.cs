using Automations.Persistence;
using Automations.ServiceDefaults;

namespace Automations.Rules;

public static class Program
{
    public static Task Main(string[] args) => Build(args).RunAsync();

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults("automations-rules");
        builder.AddMigrateOnStart();
        builder.AddRules();
        var app = builder.Build();
        app.MapRules();
        app.MapDefaultEndpoints();
        return app;
    }
}
