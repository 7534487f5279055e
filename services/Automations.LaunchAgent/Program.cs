using Automations.ServiceDefaults;

namespace Automations.LaunchAgent;

public static class Program
{
    public static Task Main(string[] args) => Build(args).RunAsync();

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults("automations-launch-agent");
        builder.AddLaunchAgent();
        var app = builder.Build();
        app.MapLaunchAgent();
        app.MapDefaultEndpoints();
        return app;
    }
}
