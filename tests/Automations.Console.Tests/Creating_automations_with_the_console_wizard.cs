using System.Net;
using System.Text.Json;
using Automations.Console.Session;
using Dapper;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;
using OpenQA.Selenium.Support.UI;

namespace Automations.Console.Tests;

/// <summary>The New automation wizard of the console of its own (Components/Wizard), in headless Chromium.</summary>
[Collection("browser")]
public class Creating_automations_with_the_console_wizard(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    private static string Wizard(string project) => $"/acme/projects/{project}/automations/new";

    private async Task<Guid> AutomationIdAsync(string? project, string name)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return project is null
            ? await c.QuerySingleAsync<Guid>("select id from control.automations where name = @name and scope = 'team'", new { name })
            : await c.QuerySingleAsync<Guid>("select id from control.automations where name = @name and project = @project", new { name, project });
    }

    /// <summary>
    /// The one-time message the wizard leaves for the automation's page: in the message cookie while that page (another
    /// branch's) does not exist here, or on the page once it does (it reads the cookie, which removes it).
    /// </summary>
    private string CreatedMessage()
    {
        var cookie = B.Driver.Manage().Cookies.GetCookieNamed(Flash.CookieName);
        if (cookie is null) return B.Find("main").Text;
        var protector = fx.Console.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("Automations.Console.Flash");
        var message = JsonSerializer.Deserialize<FlashMessage>(protector.Unprotect(Uri.UnescapeDataString(cookie.Value)))!;
        Assert.Equal("automation", message.Form);
        Assert.True(message.Ok);
        return message.Message;
    }

    /// <summary>A field's current value (a select's chosen option).</summary>
    private string? Value(string css) => B.Driver.ExecuteScript("return document.querySelector(arguments[0]).value", css) as string;

    private void Create() => B.Submit("#create-button");

    /// <summary>Every visible error of the form (messages under fields and the live JSON checks).</summary>
    private List<string> VisibleErrors() => B.FindAll("#new-automation p.error:not(.message)").Where(e => e.Displayed && e.Text.Length > 0).Select(e => e.Text).ToList();

    [Fact]
    public async Task Should_create_a_webhook_automation_with_errors_only_at_the_fields_they_concern_and_redirect_with_one_message()
    {
        var hook = Unique("deploy-");
        await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/wizard-deploy") });
        var gone = Unique("gone-");
        var goneId = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = gone, url = fx.Receiver.Url("/wizard-gone") })).GetProperty("id").GetGuid();
        // As the Api records a 410 Gone from the endpoint.
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("update control.webhooks set disabled_at = now(), disabled_reason = '410 Gone from the endpoint' where id = @goneId", new { goneId });
        var project = Unique("mnist-");
        var name = Unique("dispatch on new version ");

        B.SignInToConsole(fx.AdminKey);
        B.Go(Wizard(project));
        Assert.Contains("New automation", B.Text("h1"));

        // Every input has a label (its own <label for>, or the label around it).
        foreach (var input in B.FindAll("#new-automation input:not([type=hidden]), #new-automation select, #new-automation textarea"))
        {
            var inputId = input.GetAttribute("id");
            Assert.False(string.IsNullOrEmpty(inputId), input.GetAttribute("outerHTML"));
            Assert.True(B.FindAll($"label[for='{inputId}']").Count == 1 || input.FindElements(By.XPath("ancestor::label")).Count == 1, $"no label for #{inputId}");
        }

        // The disabled webhook is not offered, and the page says why.
        var offered = B.FindAll("#webhook option").Select(o => o.GetAttribute("value")).ToList();
        Assert.Contains(hook, offered);
        Assert.DoesNotContain(gone, offered);
        Assert.Contains(gone, B.Text("#disabled-webhooks"));
        Assert.Contains("410 Gone from the endpoint", B.Text("#disabled-webhooks"));

        // Only the chosen event's and action's sections show.
        Assert.True(B.Find("#collection").Displayed);
        Assert.False(B.Find("#alias-regex").Displayed);
        Assert.True(B.Find("#payload").Displayed);
        Assert.False(B.Find("#job").Displayed);

        // An example payload is one click away, without a post.
        var wizardUrl = B.Driver.Url;
        B.Find("#example-slack").Click();
        Assert.Contains("\"blocks\"", B.Find("#payload").GetAttribute("value"));
        Assert.Equal(wizardUrl, B.Driver.Url);
        B.Find("#example-teams").Click();
        Assert.Contains("MessageCard", B.Find("#payload").GetAttribute("value"));

        B.Fill("#collection", "eval-set");
        B.ChooseValue("#webhook", hook);
        // The JSON error's position as you type.
        B.SetValue("#payload", "{\n  \"version\": ${artifact_version_string}\n}");
        Assert.Contains("line 2, character 14", B.Text("#payload-live"));
        Assert.Equal("true", B.Find("#payload").GetAttribute("aria-invalid"));
        B.Screenshot("wizard-payload-live-error");

        // Posted as it is: one error, at the payload, in the form's words; what was typed stays.
        Create();
        Assert.Equal(Wizard(project), B.Path0);
        Assert.Equal(["Payload is not valid JSON: the problem is at line 2, character 14."], VisibleErrors());
        Assert.Contains("Please correct the field marked below.", B.Text("#wizard-message"));
        Assert.Equal("eval-set", B.Find("#collection").GetAttribute("value"));
        Assert.DoesNotContain("invalid start of a value", B.Source);
        B.Screenshot("wizard-payload-error");

        // Fixed as you type: the error goes at once.
        B.SetValue("#payload", "{\"version\": \"${artifact_version_string}\"}");
        Assert.Empty(VisibleErrors());

        // The name is missing: now only its error shows (the payload's earlier one does not stay).
        Create();
        Assert.Equal(Wizard(project), B.Path0);
        var errors = VisibleErrors();
        Assert.Single(errors);
        Assert.StartsWith("Automation name", errors[0]);
        Assert.Single(B.FindAll("#automation-name-error"));
        Assert.Empty(B.FindAll("#payload-error"));
        Assert.Equal("{\"version\": \"${artifact_version_string}\"}", B.Find("#payload").GetAttribute("value"));

        B.Fill("#automation-name", name);
        Create();
        var id = await AutomationIdAsync(project, name);
        Assert.Equal($"/acme/projects/{project}/automations/{id}", B.Path0);
        Assert.Contains($"Automation created: {name}.", CreatedMessage());
    }

    [Fact]
    public async Task Should_create_notification_no_op_and_launch_automations_with_the_jobs_versions_offered()
    {
        var integration = Unique("ml-alerts-");
        await fx.CreateAsync("/v1/entities/acme/integrations", new { name = integration, kind = "slack", url = fx.Receiver.Url("/services/T1/B2/wizardpart0123456789") });
        var job = await fx.CreateAsync("/v1/entities/acme/jobs", new { name = Unique("retrain-") });
        var jobName = job.GetProperty("name").GetString()!;
        foreach (var script in new[] { "train.py", "train2.py" })
            await fx.CreateAsync($"/v1/entities/acme/jobs/{job.GetProperty("id").GetGuid()}/versions", new { command = "python", args = new[] { script } });
        var queue = Unique("gpu-");
        await fx.CreateAsync("/v1/entities/acme/queues", new { name = queue });
        var project = Unique("vision-");

        B.SignInToConsole(fx.AdminKey);
        B.Go(Wizard(project));
        B.Fill("#collection", "mnist-model");
        B.Find("#action-notification").Click();
        Assert.True(B.Find("#title").Displayed);
        Assert.False(B.Find("#payload").Displayed);
        B.ChooseValue("#integration", integration);
        B.ChooseValue("#severity", "error");
        var notify = Unique("notify ");
        B.Fill("#automation-name", notify);
        Create();
        var notifyId = await AutomationIdAsync(project, notify);
        Assert.Equal($"/acme/projects/{project}/automations/{notifyId}", B.Path0);
        Assert.Contains(notify, CreatedMessage());

        B.Go(Wizard(project));
        B.Fill("#collection", "mnist-model");
        B.Find("#action-no_op").Click();
        var noop = Unique("try trigger ");
        B.Fill("#automation-name", noop);
        Create();
        Assert.Equal($"/acme/projects/{project}/automations/{await AutomationIdAsync(project, noop)}", B.Path0);

        B.Go(Wizard(project));
        B.ChooseValue("#event-type", "ADD_ARTIFACT_ALIAS");
        Assert.False(B.Find("#collection").Displayed);
        B.Fill("#alias-regex", "^production$");
        B.Find("#action-launch").Click();
        B.ChooseValue("#job", jobName);
        // The job's versions, newest first, the newest chosen.
        var versions = B.FindAll($"#job-version optgroup[data-job='{jobName}'] option").Select(o => o.GetAttribute("value")).ToList();
        Assert.Equal([$"{jobName}#2", $"{jobName}#1"], versions);
        Assert.Equal($"{jobName}#2", Value("#job-version"));
        B.ChooseValue("#job-version", $"{jobName}#1");
        B.SetValue("#overrides", "{\"epochs\": 3}");
        B.Fill("#target-project", "vision-training");
        B.ChooseValue("#queue", queue);
        var launch = Unique("retrain on production ");
        B.Fill("#automation-name", launch);
        B.Screenshot("wizard-launch");
        Create();
        Assert.Equal($"/acme/projects/{project}/automations/{await AutomationIdAsync(project, launch)}", B.Path0);

        await using var c = await fx.DataSource.OpenConnectionAsync();
        var rows = (await c.QueryAsync<(string Name, string Action, int? Version)>(
            "select name, action_type, job_version from control.automations where project = @project order by name", new { project })).ToList();
        Assert.Contains((notify, "notification", null), rows);
        Assert.Contains((noop, "no_op", null), rows);
        Assert.Contains((launch, "launch", 1), rows);
    }

    [Fact]
    public async Task Should_offer_the_teams_secrets_on_dollar_to_admins_and_the_variables_only_to_members()
    {
        var secret = Unique("WIZARD_TOKEN_").ToUpperInvariant();
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name = secret, value = "wizard-secret-value-42" });
        var project = Unique("secrets-");

        B.SignInToConsole(fx.AdminKey);
        B.Go(Wizard(project));
        var editor = B.Find("#payload");
        editor.Clear();
        editor.SendKeys("{\"token\": \"$WIZARD_T");
        var list = B.Find("#payload-complete");
        Assert.True(list.Displayed);
        Assert.Contains(secret, list.Text);
        B.Screenshot("wizard-dollar");
        editor.SendKeys(Keys.Enter);
        Assert.Equal("{\"token\": \"${" + secret + "}", editor.GetAttribute("value"));
        Assert.DoesNotContain("wizard-secret-value-42", B.Source);

        B.SignInToConsole(fx.MemberKey);
        B.Go(Wizard(project));
        editor = B.Find("#payload");
        editor.Clear();
        editor.SendKeys("{\"who\": \"$");
        Assert.DoesNotContain(secret, B.Find("#payload-complete").Text);
        Assert.Contains("${event_author}", B.Find("#payload-complete").Text);
        Assert.DoesNotContain(secret, B.Source);
    }

    [Fact]
    public async Task Should_explain_a_non_match_in_the_preview_then_show_the_request_with_secrets_masked_keeping_what_was_typed_and_saving_nothing()
    {
        var secret = Unique("PREVIEW_TOKEN_").ToUpperInvariant();
        const string value = "wizard-preview-secret-0123456789";
        var hook = Unique("preview-hook-");
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name = secret, value });
        await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/deploy"), secret, accessToken = secret });
        var project = Unique("preview-");

        B.SignInToConsole(fx.MemberKey);
        B.Go(Wizard(project));
        B.ChooseValue("#event-type", "ADD_ARTIFACT_ALIAS");
        B.Fill("#alias-regex", "^prod$");
        B.ChooseValue("#webhook", hook);
        B.SetValue("#payload", $$"""{"version":"${artifact_version_string}","token":"${{{secret}}}"}""");
        B.Fill("#automation-name", Unique("deploy "));
        Assert.Contains(project, B.Find("#sample").GetAttribute("value") ?? "");
        B.Submit("#preview-button");
        Assert.Contains("Does not match", B.Text("#preview-result"));
        Assert.Contains("Alias regex", B.Text("#preview-refusal"));
        Assert.DoesNotContain("event.aliasRegex", B.Text("#preview-result"));
        Assert.Equal("^prod$", B.Find("#alias-regex").GetAttribute("value"));
        Assert.Equal(hook, Value("#webhook"));
        B.Screenshot("wizard-preview-no-match");

        B.Fill("#alias-regex", "^production$");
        B.Submit("#preview-button");
        Assert.Contains("Matches", B.Text("#preview-result"));
        Assert.Contains("/deploy", B.Text("#preview-url"));
        Assert.Contains($"acme/{project}/eval-set:production", B.Text("#preview-body"));
        Assert.Contains("${" + secret + "}", B.Text("#preview-body"));
        Assert.Contains("webhook-signature: v1,********", B.Text("#preview-headers"));
        Assert.DoesNotContain(value, B.Source);

        B.SetValue("#sample", "{\"eventId\":\"x\"}");
        B.Submit("#preview-button");
        Assert.Contains("Sample event", B.Text("#sample-error"));
        Assert.Empty(B.FindAll("#preview-result"));

        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from control.automations where project = @project", new { project }));
    }

    [Fact]
    public async Task Should_say_the_apis_warnings_in_the_message_after_the_redirect()
    {
        var hook = Unique("warn-hook-");
        await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/warn") });
        var project = Unique("warn-");
        var name = Unique("bare reference ");

        B.SignInToConsole(fx.MemberKey);
        B.Go(Wizard(project));
        B.Fill("#collection", "eval-set");
        B.ChooseValue("#webhook", hook);
        B.SetValue("#payload", "{\"who\": \"$event_author\"}");
        B.Fill("#automation-name", name);
        Create();
        Assert.Equal($"/acme/projects/{project}/automations/{await AutomationIdAsync(project, name)}", B.Path0);
        var message = CreatedMessage();
        Assert.Contains("check", message);
        Assert.Contains("${event_author}", message);
    }

    [Fact]
    public async Task Should_create_an_automation_with_the_keyboard_only()
    {
        var project = Unique("keys-");
        var name = Unique("keyboard ");
        B.SignInToConsole(fx.MemberKey);
        B.Go(Wizard(project));

        TabTo("collection");
        new Actions(B.Driver).SendKeys("eval-set").Perform();
        TabTo("action-webhook");
        // Arrow keys move through the radio group: webhook → launch → notification → do nothing.
        new Actions(B.Driver).SendKeys(Keys.ArrowRight).SendKeys(Keys.ArrowRight).SendKeys(Keys.ArrowRight).Perform();
        Assert.True(B.Find("#action-no_op").Selected);
        Assert.False(B.Find("#payload").Displayed);
        TabTo("automation-name");
        new Actions(B.Driver).SendKeys(name).Perform();
        var token = B.Driver.ExecuteScript("return document.querySelector('input[name=__RequestVerificationToken]').value") as string;
        new Actions(B.Driver).SendKeys(Keys.Enter).Perform();
        new WebDriverWait(B.Driver, TimeSpan.FromSeconds(60)).Until(d =>
        {
            try { return B.Driver.ExecuteScript("var e=document.querySelector('input[name=__RequestVerificationToken]');return e?e.value:''") as string != token; }
            catch (WebDriverException) { return false; }
        });
        Assert.Equal($"/acme/projects/{project}/automations/{await AutomationIdAsync(project, name)}", B.Path0);
        Assert.Contains(name, CreatedMessage());
    }

    private void TabTo(string id)
    {
        for (var i = 0; i < 120; i++)
        {
            new Actions(B.Driver).SendKeys(Keys.Tab).Perform();
            if (B.Driver.ExecuteScript("return document.activeElement && document.activeElement.id") as string == id)
            {
                // Where the focus is shows (the focus ring), as the console's CSS promises.
                Assert.NotEqual("none", B.Driver.ExecuteScript("return getComputedStyle(document.activeElement).outlineStyle") as string);
                return;
            }
        }
        Assert.Fail($"Tab never reached #{id}");
    }

    [Fact]
    public async Task Should_create_a_team_automation_with_a_project_regex_for_admins_only()
    {
        B.SignInToConsole(fx.MemberKey);
        using (var client = fx.ConsoleClient(B.Cookies()))
        {
            using var forbidden = await client.GetAsync("/acme/automations/new");
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
            using var other = await client.GetAsync("/globex/projects/mnist/automations/new");
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
            using var badProject = await client.GetAsync("/acme/projects/no%20such%20project!/automations/new");
            Assert.Equal(HttpStatusCode.NotFound, badProject.StatusCode);

            // Without script every section is there, none hidden; a draft that is not this user's (or is gone) is said so.
            using var page = await client.GetAsync("/acme/projects/mnist/automations/new?draft=" + new string('z', 24));
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var html = await page.Content.ReadAsStringAsync();
            foreach (var id in new[] { "collection", "alias-regex", "run-state", "metric-threshold", "payload", "job-version", "queue", "integration", "title", "sample" })
                Assert.Contains($"id=\"{id}\"", html);
            Assert.DoesNotMatch(@"\shidden[\s>=]", html);
            Assert.Contains("no longer here", html);
            using var hostile = await client.GetAsync("/acme/projects/mnist/automations/new?draft=" + new string('x', 5000));
            Assert.Equal(HttpStatusCode.OK, hostile.StatusCode);
        }

        var name = Unique("team watch ");
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/automations/new");
        B.Fill("#project-regex", "^prod-");
        B.Fill("#collection", "eval-set");
        B.Find("#action-no_op").Click();
        B.Fill("#automation-name", name);
        Create();
        Assert.Equal($"/acme/automations/{await AutomationIdAsync(null, name)}", B.Path0);
        Assert.Contains(name, CreatedMessage());
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal("^prod-", await c.ExecuteScalarAsync<string>("select project_regex from control.automations where name = @name", new { name }));
    }
}
