// ddbfs-demo-render: draws the pictures and PDFs of scripts/demo-data with
// Qt (no image tools needed). Reads one job per line from stdin, fields
// separated by tabs:
//   png <TAB> OUT.png <TAB> TITLE <TAB> HUE (0-359)
//   pdf <TAB> OUT.pdf <TAB> TITLE <TAB> BODY (\n for a new line)
// Prints one line per failure and exits 1 if any job failed.

#include <QGuiApplication>
#include <QImage>
#include <QLinearGradient>
#include <QPainter>
#include <QPdfWriter>
#include <QTextStream>
#include <cstdio>

namespace {

bool Png(const QString& out, const QString& title, int hue) {
  QImage image(480, 320, QImage::Format_RGB32);
  QPainter p(&image);
  QLinearGradient g(0, 0, 480, 320);
  g.setColorAt(0, QColor::fromHsv(hue % 360, 140, 235));
  g.setColorAt(1, QColor::fromHsv((hue + 60) % 360, 200, 120));
  p.fillRect(image.rect(), g);
  // A horizon and a sun, so that pictures differ by more than colour.
  p.setBrush(QColor::fromHsv((hue + 180) % 360, 90, 250));
  p.setPen(Qt::NoPen);
  p.drawEllipse(QPoint(80 + (hue * 7) % 320, 90), 36, 36);
  p.setBrush(QColor(0, 0, 0, 70));
  p.drawRect(0, 220 - (hue % 40), 480, 120);
  p.setPen(Qt::white);
  QFont f = p.font();
  f.setPixelSize(30);
  f.setBold(true);
  p.setFont(f);
  p.drawText(image.rect().adjusted(16, 16, -16, -16), Qt::AlignBottom | Qt::AlignLeft, title);
  p.end();
  return image.save(out, "PNG");
}

bool Pdf(const QString& out, const QString& title, const QString& body) {
  QPdfWriter writer(out);
  writer.setPageSize(QPageSize(QPageSize::A4));
  writer.setTitle(title);
  QPainter p(&writer);
  if (!p.isActive()) return false;
  const QRect page = p.viewport();
  QFont f = p.font();
  f.setPointSize(20);
  f.setBold(true);
  p.setFont(f);
  p.drawText(page.adjusted(0, 0, 0, -page.height() * 7 / 8), Qt::AlignLeft | Qt::AlignTop, title);
  f.setPointSize(11);
  f.setBold(false);
  p.setFont(f);
  p.drawText(page.adjusted(0, page.height() / 8, 0, 0), Qt::AlignLeft | Qt::AlignTop,
             QString(body).replace("\\n", "\n"));
  return p.end();
}

}  // namespace

int main(int argc, char** argv) {
  QGuiApplication app(argc, argv);
  QTextStream in(stdin);
  int failed = 0;
  QString line;
  while (in.readLineInto(&line)) {
    const QStringList f = line.split('\t');
    bool ok = false;
    if (f.size() == 4 && f[0] == "png") ok = Png(f[1], f[2], f[3].toInt());
    if (f.size() == 4 && f[0] == "pdf") ok = Pdf(f[1], f[2], f[3]);
    if (!ok) {
      std::fprintf(stderr, "ddbfs-demo-render: cannot make %s\n", qPrintable(line));
      ++failed;
    }
  }
  return failed == 0 ? 0 : 1;
}
