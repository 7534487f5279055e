using Automations.Persistence;
using Automations.ServiceDefaults;

namespace Automations.LaunchEnqueuer;

public static class Program
{
    public static Task Main(string[] args) => Build(args).RunAsync();

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults("automations-launch-enqueuer");
        builder.AddMigrateOnStart();
        builder.AddLaunchEnqueuer();
        var app = builder.Build();
        app.MapLaunchEnqueuer();
        app.MapDefaultEndpoints();
        return app;
    }
}
