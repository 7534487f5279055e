using System.Drawing;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace Automations.Console.Tests;

/// <summary>
/// Headless Debian Chromium driven by chromedriver (apt: chromium, chromium-driver), with a fresh profile.
/// Screenshots of each page go to bin/.../screenshots/{name}-laptop.png and -phone.png.
/// </summary>
public sealed class Browser : IDisposable
{
    public static readonly string ChromiumPath = Environment.GetEnvironmentVariable("AUTOMATIONS_CHROMIUM") ?? "/usr/bin/chromium";
    public static readonly string DriverPath = Environment.GetEnvironmentVariable("AUTOMATIONS_CHROMEDRIVER") ?? "/usr/bin/chromedriver";
    public static readonly string ScreenshotDir = Path.Combine(AppContext.BaseDirectory, "screenshots");

    private readonly string _profile;

    private Browser(ChromeDriver driver, Uri baseAddress, string profile)
    {
        Driver = driver;
        BaseAddress = baseAddress;
        _profile = profile;
    }

    public ChromeDriver Driver { get; }
    public Uri BaseAddress { get; }

    public static Browser Start(Uri baseAddress)
    {
        if (!File.Exists(ChromiumPath) || !File.Exists(DriverPath))
            throw new InvalidOperationException($"The browser tests need {ChromiumPath} and {DriverPath}: apt-get install -y chromium chromium-driver (deploy/local/test.sh does, through infra.sh --with-browser).");
        var profile = Directory.CreateTempSubdirectory("console-chromium-").FullName;
        var options = new ChromeOptions { BinaryLocation = ChromiumPath };
        options.AddArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,900", $"--user-data-dir={profile}");
        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(DriverPath)!, Path.GetFileName(DriverPath));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(90));
        driver.Manage().Timeouts().PageLoad = TimeSpan.FromSeconds(60);
        Directory.CreateDirectory(ScreenshotDir);
        return new Browser(driver, baseAddress, profile);
    }

    public void Go(string path) => Driver.Navigate().GoToUrl(new Uri(BaseAddress, path));

    public string Path0 => new Uri(Driver.Url).AbsolutePath;

    public IWebElement Find(string css) => Driver.FindElement(By.CssSelector(css));
    public IReadOnlyList<IWebElement> FindAll(string css) => Driver.FindElements(By.CssSelector(css));
    public string Text(string css) => Find(css).Text;
    public string Title => Find("h1").Text;
    public string Source => Driver.PageSource;

    public void Fill(string css, string value)
    {
        var e = Find(css);
        e.Clear();
        e.SendKeys(value);
    }

    /// <summary>Sets a textarea or input without typing (editors with braces and newlines), firing input/change.</summary>
    public void SetValue(string css, string value) =>
        Driver.ExecuteScript("var e=document.querySelector(arguments[0]);e.value=arguments[1];e.dispatchEvent(new Event('input',{bubbles:true}));e.dispatchEvent(new Event('change',{bubbles:true}));", css, value);

    public void ChooseValue(string css, string value)
    {
        var select = Find(css);
        select.Click();
        select.FindElements(By.TagName("option")).Single(o => o.GetAttribute("value") == value).Click();
    }

    /// <summary>Clicks and waits for the next document (forms post and redirect).</summary>
    public void ClickAndWait(string css) => ClickAndWait(Find(css));

    public void ClickAndWait(IWebElement element)
    {
        var html = Driver.FindElement(By.TagName("html"));
        element.Click();
        new WebDriverWait(Driver, TimeSpan.FromSeconds(60)).Until(d =>
        {
            try { _ = html.TagName; return false; }
            catch (StaleElementReferenceException) { return Driver.ExecuteScript("return document.readyState")?.ToString() == "complete"; }
            // Chromium sometimes reports the same staleness, mid-navigation, as this inspector error instead.
            catch (UnknownErrorException ex) when (ex.Message.Contains("does not belong to the document", StringComparison.Ordinal))
            {
                return Driver.ExecuteScript("return document.readyState")?.ToString() == "complete";
            }
        });
    }

    public string? Cookie(string name) => Driver.Manage().Cookies.GetCookieNamed(name) is { } c ? $"{c.Name}={c.Value}" : null;

    /// <summary>Saves the current page at laptop (1280 px) and phone (390 px) widths.</summary>
    public void Screenshot(string name)
    {
        foreach (var (label, size) in new[] { ("laptop", new Size(1280, 900)), ("phone", new Size(390, 844)) })
        {
            Driver.Manage().Window.Size = size;
            Driver.GetScreenshot().SaveAsFile(Path.Combine(ScreenshotDir, $"{name}-{label}.png"));
        }
        Driver.Manage().Window.Size = new Size(1280, 900);
    }

    public void Dispose()
    {
        try { Driver.Quit(); } catch (WebDriverException) { }
        Driver.Dispose();
        try { Directory.Delete(_profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
