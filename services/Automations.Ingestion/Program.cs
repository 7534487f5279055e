using Automations.Persistence;
using Automations.ServiceDefaults;

namespace Automations.Ingestion;

public static class Program
{
    public static Task Main(string[] args) => Build(args).RunAsync();

    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddServiceDefaults("automations-ingestion");
        builder.AddMigrateOnStart();
        builder.AddIngestion();
        var app = builder.Build();
        app.MapIngestion();
        app.MapDefaultEndpoints();
        return app;
    }
}
