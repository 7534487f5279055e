using Automations.ServiceDefaults;

namespace Automations.Console;

public static class Program
{
    public static async Task Main(string[] args) => await AutomationsService.RunAsync(Build(args));

    public static WebApplication Build(string[] args)
    {
        // The application name finds the static assets manifest (Automations.Console.staticwebassets.endpoints.json)
        // also when a test process hosts the console.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ApplicationName = typeof(Program).Assembly.GetName().Name });
        // Run from a build output (tests, up.sh without a publish) the stylesheet, favicon and framework script are found
        // through the build's static web assets manifest; a publish has them in wwwroot and no such manifest.
        builder.WebHost.UseStaticWebAssets();
        builder.AddConsole();
        var app = builder.Build();
        app.MapConsole();
        return app;
    }
}
